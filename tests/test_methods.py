"""Compression methods as configs: every method's file, data-aware SHARe-KAN, GPTQ, and the codebook stages."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sharekan_core as sk
from sharekan_core.compression import (CompressionConfig, GPTQConfig, KMeansConfig, PruneConfig, UniformConfig,
                                    compress, decompress)
from sharekan_core.compression.layer_statistics import basis_moments, layer_inputs
from sharekan_core.compression.data_aware import EdgeMetric, fit_codewords, metric_assign, refit_gain_bias
from sharekan_core.compression.decompose import decompose
from sharekan_core.compression.methods.gptq import gptq_codes, inverse_cholesky_upper
from sharekan_core.errors import SharekanError
from sharekan_core.format import save_compressed, storage_report
from sharekan_core.format.compressed_file import header_nbytes, load_compressed
from sharekan_core.model import KAN, KANConfig
from sharekan_core.runtime import load_runnable
from sharekan_core.tasks.digits import load_digits_split

from conftest import prototype_kan

CONFIGS = [CompressionConfig(codebook_size=8, bits=8), CompressionConfig(codebook_size=8, bits=4, scope="global"),
           UniformConfig(bits=3), UniformConfig(bits=5, group_size=2), GPTQConfig(bits=3), GPTQConfig(bits=4, group_size=2),
           KMeansConfig(codebook_size=8, bits=8), KMeansConfig(codebook_size=8, bits=4, scope="global"),
           PruneConfig(sparsity=0.6), PruneConfig(sparsity=0.3, bits=16)]


def outputs(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def relative_output_error(dense: KAN, compressed: sk.CompressedKAN, x: np.ndarray) -> float:
    reference = outputs(dense, x)
    return float(((outputs(decompress(compressed), x) - reference) ** 2).mean() / (reference ** 2).mean())


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: repr(c)[:60])
def test_every_method_writes_an_accounted_file_that_loads_and_predicts(config, tmp_path):
    model = prototype_kan((12, 10, 4), prototypes=5)
    calibration = np.random.default_rng(0).uniform(-1, 1, (64, 12)).astype(np.float32)
    compressed = compress(model, config, calibration if isinstance(config, GPTQConfig) else None)
    path = tmp_path / "model.skan"
    size = save_compressed(compressed, path)
    loaded = load_compressed(path)
    report = storage_report(model, loaded)
    assert size == path.stat().st_size == report.compressed_bytes + header_nbytes(path)
    assert loaded.method == config.method and loaded.config == config
    x = np.random.default_rng(1).uniform(-1, 1, (32, 12)).astype(np.float32)
    expected = outputs(decompress(compressed), x)
    np.testing.assert_array_equal(outputs(decompress(loaded), x), expected)
    np.testing.assert_allclose(outputs(load_runnable(path).module, x), expected, rtol=1e-4, atol=1e-4)


def test_uniform_bits_bound_the_coefficient_error():
    model = prototype_kan((12, 10, 4), prototypes=5)
    errors = [sk.decompress(compress(model, UniformConfig(bits=bits))).layers[0].spline_weight for bits in (2, 4, 8)]
    dense = model.layers[0].scaled_spline_weight().detach()
    gaps = [float((e.detach() - dense).abs().max()) for e in errors]
    step = float(dense.reshape(10, -1).amax(1).sub(dense.reshape(10, -1).amin(1)).max())
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] <= step / 255 / 2 + 1e-6


def test_kmeans_stores_only_indices_and_a_raw_codebook():
    model = prototype_kan((12, 10, 4), prototypes=5)
    compressed = compress(model, KMeansConfig(codebook_size=8, bits=32))
    by_component = storage_report(model, compressed).by_component()
    assert by_component["gains"] == by_component["biases"] == by_component["coefficients"] == 0
    assert by_component["codebook"] > 0 and by_component["indices"] > 0


def test_configs_validate_their_fields():
    for build, match in ((lambda: UniformConfig(bits=1), "bits"), (lambda: UniformConfig(bits=9), "bits"),
                         (lambda: UniformConfig(group_size=0), "group_size"), (lambda: GPTQConfig(damping=0), "damping"),
                         (lambda: KMeansConfig(codebook_size=1), "codebook_size"), (lambda: PruneConfig(sparsity=1.0), "sparsity"),
                         (lambda: CompressionConfig(kmeans_method="fast"), "kmeans_method"),
                         (lambda: CompressionConfig(data_aware_passes=-1), "data_aware_passes")):
        with pytest.raises(SharekanError, match=match):
            build()
    with pytest.raises(SharekanError, match="group_size"):
        compress(prototype_kan((12, 10, 4), prototypes=5), UniformConfig(bits=4, group_size=5))
    with pytest.raises(SharekanError, match="calibration"):
        compress(prototype_kan((12, 10, 4), prototypes=5), GPTQConfig())


def test_codebook_builder_options_are_reachable_through_the_config():
    model = prototype_kan((12, 10, 4), prototypes=5, seed=2)
    for method in ("exact", "flat", "two-level"):
        compressed = compress(model, CompressionConfig(codebook_size=4, bits=32, kmeans_method=method, spherical=True))
        norms = np.linalg.norm(compressed.codebooks[0].dequantize(), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-5)


# --- data-aware SHARe-KAN -------------------------------------------------------------------------

def partial_grid_inputs(rows: int, seed: int) -> np.ndarray:
    """Inputs that fill only [-0.2, 0.6] of each input's [-1, 1] grid."""
    return np.random.default_rng(seed).uniform(-0.2, 0.6, (rows, 12)).astype(np.float32)


def test_data_aware_beats_data_blind_on_held_out_inputs():
    model = prototype_kan((12, 10, 4), prototypes=30, seed=4)   # 30 shapes per layer, 8 codewords
    calibration, held_out = partial_grid_inputs(512, 0), partial_grid_inputs(512, 1)
    config = CompressionConfig(codebook_size=8, bits=8)
    blind = relative_output_error(model, compress(model, config), held_out)
    data_aware = compress(model, config, calibration)
    aware = relative_output_error(model, data_aware, held_out)
    assert aware < 0.7 * blind
    assert data_aware.metadata["calibration_rows"] == 512


def test_data_aware_gain_refit_lowers_the_error():
    """Switching off the refit of gains under the calibration metric (bias still refitted) costs accuracy."""
    model = prototype_kan((12, 10, 4), prototypes=30, seed=4)
    calibration, held_out = partial_grid_inputs(512, 0), partial_grid_inputs(512, 1)
    default, plain = (relative_output_error(model, compress(model, CompressionConfig(codebook_size=8, bits=32, refit_gain=refit),
                                                            calibration), held_out) for refit in (True, False))
    assert default < 0.9 * plain


def test_data_aware_gain_squared_weights_spend_codewords_on_large_splines():
    """20 large-gain edges on 4 shapes and 60 near-flat random ones, K = 4: with gain**2 weights the
    large shapes stay exact; unweighted, codewords go to the near-flat noise."""
    rng = np.random.default_rng(3)
    shapes = np.concatenate([rng.normal(size=(4, 13))[np.arange(20) % 4], rng.normal(size=(60, 13))])
    gains = np.concatenate([np.full(20, 10.0), np.full(60, 0.05)])[:, None]
    model = KAN(KANConfig((8, 10)))
    with torch.no_grad():
        model.layers[0].spline_weight.copy_(torch.from_numpy((gains * shapes)[rng.permutation(80)].reshape(10, 8, 13)))
        model.layers[0].spline_scaler.fill_(1.0)
    calibration, held_out = (rng.uniform(-0.2, 0.6, (512, 8)).astype(np.float32) for _ in range(2))
    weighted, unweighted = (relative_output_error(model, compress(model, CompressionConfig(codebook_size=4, bits=32, weighted=w),
                                                                  calibration), held_out) for w in (True, False))
    assert weighted < 1e-3 and weighted < 0.1 * unweighted  # measured 1.1e-5 against 0.067


def test_without_calibration_nothing_changes():
    model = prototype_kan((12, 10, 4), prototypes=30, seed=4)
    config = CompressionConfig(codebook_size=8, bits=8)
    first, second = compress(model, config), compress(model, config, None)
    assert all(np.array_equal(a.payload, b.payload) for a, b in zip(first.codebooks, second.codebooks))


def test_inputs_outside_the_grid_work():
    model = prototype_kan((12, 10, 4), prototypes=30, seed=4)
    calibration = np.random.default_rng(0).uniform(-3, 3, (256, 12)).astype(np.float32)
    calibration[:, 0] = 5.0  # input 0 never enters its grid: its basis moment is zero
    moments = basis_moments(model.layers[0], layer_inputs(model, calibration)[0])
    assert np.all(moments[0] == 0) and np.all(np.trace(moments[1:], axis1=1, axis2=2) > 0)
    compressed = compress(model, CompressionConfig(codebook_size=8), calibration)
    assert np.isfinite(compressed.layer_coefficients(0)).all()


def test_alternation_never_raises_the_calibration_error():
    rng = np.random.default_rng(5)
    model = prototype_kan((6, 5, 3), prototypes=12, seed=5)
    x = rng.uniform(-0.5, 0.8, (256, 6)).astype(np.float32)
    moments = basis_moments(model.layers[0], x)
    metric = EdgeMetric.for_layers([moments], [5])
    coefficients = model.layers[0].scaled_spline_weight().detach().double().numpy().reshape(30, -1)
    parts = decompose(coefficients)
    live = parts.gains > 0
    initial = parts.shapes[live][:4]

    def calibration_error(codewords: np.ndarray) -> float:
        assigned = metric_assign(coefficients[live], parts.biases[live], codewords, metric.subset(live))
        gains, biases = refit_gain_bias(coefficients[live], codewords[assigned], metric.subset(live))
        residual = coefficients[live] - biases[:, None] - gains[:, None] * codewords[assigned]
        return float(np.einsum("ed,ed->", residual, metric.subset(live).apply(residual)))

    errors = [calibration_error(fit_codewords(coefficients, parts, live, initial, metric, passes).astype(np.float64))
              for passes in range(4)]
    assert all(later <= earlier * (1 + 1e-6) for earlier, later in zip(errors, errors[1:]))
    assert errors[-1] < errors[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), edges=st.integers(1, 20), dim=st.integers(2, 8))
def test_metric_refit_is_the_weighted_least_squares_solution(seed, edges, dim):
    """The 2 x 2 gain/bias solve matches a generic least-squares solve in the H-whitened space."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(edges, dim, dim))
    moments = factor @ factor.transpose(0, 2, 1) + 0.1 * np.eye(dim)
    metric = EdgeMetric(moments, np.arange(edges))
    coefficients, codewords = rng.normal(size=(edges, dim)), rng.normal(size=(edges, dim))
    gains, biases = refit_gain_bias(coefficients, codewords, metric)
    for e in range(edges):
        root = np.linalg.cholesky(moments[e]).T
        design = root @ np.stack([np.ones(dim), codewords[e]], axis=1)
        bias, gain = np.linalg.lstsq(design, root @ coefficients[e], rcond=None)[0]
        np.testing.assert_allclose([gains[e], biases[e]], [gain, bias], rtol=1e-6, atol=1e-8)


# --- GPTQ ----------------------------------------------------------------------------------------

def test_gptq_beats_round_to_nearest_at_3_bits_on_the_digits_kan():
    """Calibration from the training split, error measured on the held-out test split."""
    model = sk.load_model("sample_models/digits_kan.safetensors")
    split = load_digits_split()
    calibration = split.x_train[:512]
    rtn = relative_output_error(model, compress(model, UniformConfig(bits=3)), split.x_test)
    gptq = relative_output_error(model, compress(model, GPTQConfig(bits=3), calibration), split.x_test)
    assert gptq < 0.5 * rtn  # measured 0.020 against 0.147


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.integers(1, 6), cols=st.integers(1, 300), bits=st.integers(2, 8))
def test_gptq_with_a_diagonal_hessian_is_round_to_nearest(seed, rows, cols, bits):
    """Uncorrelated features leave nothing to compensate: every column rounds to its nearest level."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(rows, cols))
    low, step = weights.min(axis=1, keepdims=True), (np.ptp(weights, axis=1, keepdims=True) + 1e-3) / ((1 << bits) - 1)
    minimum, steps = np.repeat(low, cols, 1), np.repeat(step, cols, 1)
    levels = np.full(cols, (1 << bits) - 1)
    codes = gptq_codes(weights, np.diag(rng.uniform(0.5, 2, cols)), minimum, steps, levels, 0.01)
    np.testing.assert_array_equal(codes, np.clip(np.rint((weights - minimum) / steps), 0, levels))


def test_gptq_lowers_the_hessian_weighted_error_on_correlated_features():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2000, 40)) @ rng.normal(size=(40, 40))
    hessian = features.T @ features / len(features)
    weights = rng.normal(size=(8, 40))
    low, step = weights.min(axis=1, keepdims=True), np.ptp(weights, axis=1, keepdims=True) / 7
    minimum, steps, levels = np.repeat(low, 40, 1), np.repeat(step, 40, 1), np.full(40, 7)

    def error(codes: np.ndarray) -> float:
        gap = weights - (minimum + codes * steps)
        return float(np.einsum("rc,cd,rd->", gap, hessian, gap))

    nearest = np.clip(np.rint((weights - minimum) / steps), 0, 7)
    assert error(gptq_codes(weights, hessian, minimum, steps, levels, 0.01)) < 0.8 * error(nearest)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), size=st.integers(1, 60))
def test_inverse_cholesky_factor(seed, size):
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(size, size))
    hessian = torch.from_numpy(factor @ factor.T + 0.5 * np.eye(size))
    upper = inverse_cholesky_upper(hessian)
    assert torch.equal(upper, torch.triu(upper))
    np.testing.assert_allclose((upper.T @ upper @ hessian).numpy(), np.eye(size), atol=1e-7)
