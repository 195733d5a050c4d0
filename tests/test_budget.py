"""Byte-budget search: within budget, never worse than the default configuration of the same size."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, decompress
from sharekan_core.compression.api import compress
from sharekan_core.compression.methods import KMeansConfig
from sharekan_core.errors import SharekanError
from sharekan_core.experiments.budget import (best_within_bytes, grid_inputs, kmeans_bytes, output_error,
                                              search_budget, sharekan_bytes, smallest_within_points)
from sharekan_core.format import storage_report
from sharekan_core.format.compressed_file import encode_compressed, load_compressed, save_compressed

MODEL = prototype_kan((12, 10, 4), prototypes=40, seed=3)


@settings(max_examples=8, deadline=None)
@given(k=st.sampled_from([2, 8, 32]), bits=st.sampled_from([32, 8, 4]), gain=st.sampled_from([None, 4, 16]))
def test_closed_form_bytes_equal_the_accounting(k, bits, gain):
    # exact while K is at most the distinct shapes of every layer (here K <= 8); an upper bound beyond
    config = CompressionConfig(codebook_size=k, bits=bits, gain_bits=gain)
    kmeans = KMeansConfig(codebook_size=k, bits=8 if bits == 32 else bits)
    for predicted, config in ((sharekan_bytes(MODEL, config), config), (kmeans_bytes(MODEL, kmeans), kmeans)):
        actual = storage_report(MODEL, compress(MODEL, config)).compressed_bytes
        assert actual == predicted if k <= 8 else actual <= predicted


@settings(max_examples=6, deadline=None)
@given(widths=st.lists(st.sampled_from([32, 8, 4]), min_size=2, max_size=2), k=st.sampled_from([2, 8]))
def test_per_layer_bits_are_stored_and_accounted_layer_by_layer(tmp_path_factory, widths, k):
    config = CompressionConfig(codebook_size=k, bits=8, layer_bits=tuple(widths))
    compressed = compress(MODEL, config)
    for index, layer in enumerate(compressed.layers):
        assert layer.gains.bits == layer.biases.bits == layer.base_weights.bits == widths[index]
        assert compressed.codebooks[layer.codebook_id].bits == widths[index]
    assert storage_report(MODEL, compressed).compressed_bytes == sharekan_bytes(MODEL, config)
    path = tmp_path_factory.mktemp("layer_bits") / "mixed.skan"
    save_compressed(compressed, path)
    loaded = load_compressed(path)
    assert loaded.config == config and np.allclose(decompress(loaded).layers[1].base_weight.detach(),
                                                   decompress(compressed).layers[1].base_weight.detach())
    # a component override still wins in every layer
    overridden = compress(MODEL, CompressionConfig(codebook_size=k, layer_bits=tuple(widths), gain_bits=16))
    assert all(layer.gains.bits == 16 for layer in overridden.layers)


def test_per_layer_bits_must_match_the_layers_and_the_supported_widths():
    with pytest.raises(SharekanError, match="2 layer"):
        compress(MODEL, CompressionConfig(codebook_size=4, layer_bits=(8, 4, 4)))
    with pytest.raises(SharekanError, match="layer_bits"):
        CompressionConfig(layer_bits=(8, 5))
    with pytest.raises(SharekanError, match="layer_bits"):
        CompressionConfig(layer_bits=())


def test_lowering_the_less_sensitive_layer_costs_less_error():
    # Int4 in one layer at a time: the search's layer path lowers the layer whose rounding hurts least first
    from sharekan_core.experiments.budget import layer_sensitivity
    # a model whose two layers differ by about 4% (MODEL's differ by about 1%, which a thread count can flip)
    model = prototype_kan((12, 4, 10), prototypes=40, seed=0)
    inputs = grid_inputs(model, 256)
    base = CompressionConfig(codebook_size=8, bits=8)
    sensitivity = layer_sensitivity(model, inputs, base)
    errors = [output_error(model, decompress(compress(model, CompressionConfig(codebook_size=8, bits=8, layer_bits=w))),
                           inputs) for w in ((4, 8), (8, 4))]
    assert np.argmin(sensitivity) == np.argmin(errors)


@pytest.mark.parametrize("fraction", [0.6])
def test_search_stays_within_budget_and_beats_or_ties_the_default(fraction):
    budget = int(fraction * storage_report(MODEL, compress(MODEL, CompressionConfig(codebook_size=2, bits=32))).dense_bytes)
    calibration = np.random.default_rng(0).uniform(-0.5, 0.5, size=(64, 12)).astype(np.float32)
    result = search_budget(MODEL, budget, calibration)
    assert len(encode_compressed(result.compressed)) == result.best.file_bytes <= budget  # the whole file fits
    assert storage_report(MODEL, result.compressed).compressed_bytes == result.best.stored_bytes
    # the default of this size is SHARe-KAN Int8 (or Int4) at the largest K that fits, and is beaten or tied
    assert result.default.method == "sharekan" and result.default.file_bytes <= budget
    assert result.best.output_error <= result.default.output_error
    assert output_error(MODEL, decompress(result.compressed), calibration) == pytest.approx(result.best.output_error)
    assert len({c.method for c in result.candidates}) >= 3
    assert any("layer_bits" in c.config for c in result.candidates)  # the per-layer mixed-precision path ran


def test_budget_below_the_smallest_file_is_a_clear_error():
    with pytest.raises(SharekanError, match="below the smallest"):
        search_budget(MODEL, 100)


def test_grid_inputs_stay_inside_the_grid():
    x = grid_inputs(MODEL, 500)
    assert x.shape == (500, 12) and x.min() >= -1.0 and x.max() <= 1.0


def test_sweep_lookups():
    rows = [{"method": "dense", "stored_bytes": 100, "metric_mean": 0.90},
            {"method": "a", "stored_bytes": 10, "metric_mean": 0.85},
            {"method": "b", "stored_bytes": 20, "metric_mean": 0.895},
            {"method": "c", "stored_bytes": 40, "metric_mean": 0.91}]
    assert smallest_within_points(rows, 1.0)["method"] == "b"
    assert smallest_within_points(rows, 10.0)["method"] == "a"
    assert smallest_within_points(rows, -5.0) is None
    assert best_within_bytes(rows, 30)["method"] == "b"
    assert best_within_bytes(rows, 5) is None


def test_compress_command_with_a_byte_budget(tmp_path, capsys):
    import json

    from sharekan_core.cli.main import main
    from sharekan_core.io import save_model

    model = prototype_kan((8, 6, 3), prototypes=12, seed=5)
    source, out = tmp_path / "model.safetensors", tmp_path / "small.skan"
    save_model(model, source, {})
    assert main(["compress", str(source), "--max-bytes", "6000", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert out.stat().st_size == report["file_bytes"] <= 6000
    assert report["budget"]["chosen"]["file_bytes"] == report["file_bytes"]
    assert main(["compress", str(source), "--max-bytes", "6000", "-K", "4", "--out", str(out)]) == 2
