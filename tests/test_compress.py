"""The compressor: gain-shape-bias, codebooks, refit, quantization, determinism, properties."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import prototype_kan
from sharekan_core.compression import (CompressionConfig, compress, decompose, decompress, recompose,
                                    refit_gains)
from sharekan_core.errors import SharekanError
from sharekan_core.results import compress_and_measure


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(2, 16), st.integers(0, 1000))
def test_decompose_recompose_is_exact(edges, coeffs, seed):
    c = np.random.default_rng(seed).normal(size=(edges, coeffs)) * 3
    parts = decompose(c)
    np.testing.assert_allclose(recompose(parts.gains, parts.shapes.astype(np.float64), parts.biases), c, atol=1e-5)
    live = ~parts.flat
    np.testing.assert_allclose(np.linalg.norm(parts.shapes[live], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(parts.shapes[live].mean(axis=1), 0.0, atol=1e-6)


def test_flat_splines_have_zero_gain():
    c = np.vstack([np.full(13, 0.7), np.zeros(13), np.arange(13.0)])
    parts = decompose(c)
    assert list(parts.flat) == [True, True, False]
    assert np.all(parts.shapes[:2] == 0)
    np.testing.assert_allclose(recompose(parts.gains, parts.shapes, parts.biases)[:2], c[:2])


def test_refit_gain_is_least_squares():
    rng = np.random.default_rng(0)
    c, u = rng.normal(size=(50, 13)), rng.normal(size=(50, 13))
    u -= u.mean(axis=1, keepdims=True)
    b = c.mean(axis=1)
    g = refit_gains(c, b, u)
    for e in range(5):
        def err(gain):
            return np.sum((c[e] - b[e] - gain * u[e]) ** 2)
        assert err(g[e]) <= min(err(g[e] + 1e-3), err(g[e] - 1e-3))


@settings(max_examples=8, deadline=None)
@given(prototypes=st.integers(2, 12), extra=st.integers(0, 20), seed=st.integers(0, 10_000),
       scope=st.sampled_from(["layer", "global"]))
def test_prototype_kan_compresses_losslessly_at_32_bits(prototypes, extra, seed, scope):
    """A KAN made of P shapes with random gain and bias is recovered with K >= P at 32 bits."""
    model = prototype_kan((9, 7, 3), prototypes, seed)
    k = prototypes * (1 if scope == "layer" else 2) + extra
    result = compress_and_measure(model, CompressionConfig(codebook_size=max(k, 2), bits=32, scope=scope, seed=seed))
    assert result.fidelity.coef_rel_l2 < 1e-4


def test_fidelity_improves_monotonically_with_k():
    model = prototype_kan((30, 40, 8), prototypes=200, seed=3)
    with torch.no_grad():  # noise so that no K is exact
        for layer in model.layers:
            layer.spline_weight.add_(0.05 * torch.randn_like(layer.spline_weight))
    errors = [compress_and_measure(model, CompressionConfig(codebook_size=k, bits=32)).fidelity.coef_rel_l2
              for k in (2, 8, 32, 128, 512)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


def test_k_larger_than_edges_is_handled(small_kan):
    result = compress_and_measure(small_kan, CompressionConfig(codebook_size=65_536, bits=32))
    sizes = [c.shape[0] for c in result.compressed.codebooks]
    assert sizes == [48, 18]  # one exact codeword per edge
    assert result.fidelity.coef_rel_l2 < 1e-5


def test_all_flat_layer(small_kan):
    with torch.no_grad():
        small_kan.layers[0].spline_weight.fill_(0.25)
    result = compress_and_measure(small_kan, CompressionConfig(codebook_size=4, bits=32))
    assert result.compressed.codebooks[0].shape[0] == 1
    np.testing.assert_allclose(result.reconstructed.layers[0].spline_weight.detach().numpy(),
                               small_kan.layers[0].scaled_spline_weight().detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("bits,tolerance", [(32, 1e-6), (16, 2e-3), (8, 3e-2), (4, 0.3)])
def test_bits_bound_the_error(proto_kan, bits, tolerance):
    result = compress_and_measure(proto_kan, CompressionConfig(codebook_size=5, bits=bits))
    assert result.fidelity.coef_rel_l2 < tolerance
    component_bits = {layer.gains.bits for layer in result.compressed.layers}
    assert component_bits == {bits}


def test_per_component_bits(proto_kan):
    config = CompressionConfig(codebook_size=8, bits=8, codebook_bits=16, gain_bits=4)
    compressed = compress(proto_kan, config)
    layer = compressed.layers[0]
    assert (compressed.codebooks[0].bits, layer.gains.bits, layer.biases.bits, layer.base_weights.bits) == (16, 4, 8, 8)


def test_progress_is_reported(proto_kan):
    seen = []
    compress(proto_kan, CompressionConfig(codebook_size=4), progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert all(a <= b for a, b in zip(seen, seen[1:]))


def test_decompressed_model_runs_like_reconstruction(proto_kan):
    compressed = compress(proto_kan, CompressionConfig(codebook_size=5, bits=32))
    dense = decompress(compressed)
    x = torch.rand(20, 12) * 2 - 1
    torch.testing.assert_close(dense(x), proto_kan(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    ({"codebook_size": 1}, "codebook_size must be an integer from 2 to 65,536"),
    ({"codebook_size": 65_537}, "codebook_size"),
    ({"codebook_size": 16, "bits": 6}, "bits must be one of 32, 16, 8, 4"),
    ({"codebook_size": 16, "gain_bits": 2}, "gain_bits"),
    ({"codebook_size": 16, "scope": "model"}, "scope"),
    ({"codebook_size": 16, "seed": -1}, "seed"),
    ({"codebook_size": 16.5}, "codebook_size"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(SharekanError, match=match):
        CompressionConfig(**kwargs)


def test_nan_model_rejected(small_kan):
    with torch.no_grad():
        small_kan.layers[0].spline_weight[1, 1, 1] = float("inf")
    with pytest.raises(SharekanError, match="layer 0 has NaN or Inf"):
        compress(small_kan, CompressionConfig(codebook_size=4))


def test_global_scope_needs_one_coefficient_count():
    from sharekan_core.model import KAN, KANConfig
    model = KAN(KANConfig((3, 3, 2)))
    with torch.no_grad():
        model.layers[1].spline_weight = torch.nn.Parameter(torch.zeros(2, 3, 9))
        model.layers[1].grid = torch.zeros(3, 13)
    with pytest.raises(SharekanError, match="global"):
        compress(model, CompressionConfig(codebook_size=4, scope="global"))


def _kan_with_coefficients(coefficients: np.ndarray) -> "KAN":
    """A one-layer KAN (in, out) whose effective spline coefficients are ``coefficients`` (out, in, 13)."""
    from sharekan_core.model import KAN, KANConfig

    out_features, in_features, _ = coefficients.shape
    model = KAN(KANConfig((in_features, out_features)))
    with torch.no_grad():
        model.layers[0].spline_weight.copy_(torch.from_numpy(coefficients))
        model.layers[0].spline_scaler.fill_(1.0)
    return model


def test_default_gain_refit_lowers_the_coefficient_error():
    """With fewer codewords than shapes, the least-squares gain beats gain = ||c - bias|| on every edge."""
    rng = np.random.default_rng(7)
    model = _kan_with_coefficients(rng.normal(size=(10, 8, 13)))  # 80 unrelated shapes on 2 codewords
    default = compress_and_measure(model, CompressionConfig(codebook_size=2, bits=32))
    plain = compress_and_measure(model, CompressionConfig(codebook_size=2, bits=32, refit_gain=False))
    assert default.compressed.config.refit_gain
    assert default.fidelity.coef_rel_l2 < 0.99 * plain.fidelity.coef_rel_l2  # 0.871 against 0.893
    per_edge = default.fidelity.layers[0].edges.coef_rel_l2, plain.fidelity.layers[0].edges.coef_rel_l2
    assert np.all(per_edge[0] <= per_edge[1] + 1e-9)


def test_default_gain_squared_weights_spend_codewords_on_large_splines():
    """20 large-gain edges on 4 shapes and 60 near-flat edges on random shapes, K = 4: weighting by gain**2
    keeps the 4 large shapes exact; plain k-means spreads its codewords over the near-flat noise."""
    rng = np.random.default_rng(3)
    prototypes = rng.normal(size=(4, 13))
    shapes = np.concatenate([prototypes[np.arange(20) % 4], rng.normal(size=(60, 13))])
    gains = np.concatenate([np.full(20, 10.0), np.full(60, 0.05)])[:, None]
    model = _kan_with_coefficients((gains * shapes).reshape(10, 8, 13))
    weighted = compress_and_measure(model, CompressionConfig(codebook_size=4, bits=32))
    unweighted = compress_and_measure(model, CompressionConfig(codebook_size=4, bits=32, weighted=False))
    assert weighted.compressed.config.weighted
    assert weighted.fidelity.coef_rel_l2 < 0.05
    assert weighted.fidelity.coef_rel_l2 < 0.5 * unweighted.fidelity.coef_rel_l2
