"""Universal codebook: fitted on several KANs, saved and loaded bit for bit, applied by assignment only."""
import numpy as np
import pytest
from safetensors.numpy import save

from conftest import prototype_kan
from sharekan_core.compression import decompress
from sharekan_core.errors import SharekanError
from sharekan_core.experiments.universal import (compress_with_universal, fit_universal_codebook,
                                                 load_universal_codebook, save_universal_codebook, universal_cost)
from sharekan_core.model import KAN, KANConfig


def test_codebook_round_trip_and_zero_shot_assignment(tmp_path):
    sources = [prototype_kan((8, 6, 3), prototypes=6, seed=s) for s in (0, 1)]
    codebook = fit_universal_codebook(sources, size=16)
    path = tmp_path / "universal.safetensors"
    save_universal_codebook(codebook, path, [{"name": "a"}, {"name": "b"}])
    loaded = load_universal_codebook(path)
    assert loaded.shape == codebook.shape and np.array_equal(loaded.dequantize(), codebook.dequantize())
    compressed = compress_with_universal(sources[0], loaded)
    assert np.array_equal(compressed.codebooks[0].payload, loaded.payload)  # kept bit for bit, no refit of codewords
    assert compressed.config.scope == "global" and decompress(compressed).num_edges == sources[0].num_edges


def test_unseen_model_pays_for_universality():
    sources = [prototype_kan((8, 6, 3), prototypes=4, seed=s) for s in (0, 1)]
    codebook = fit_universal_codebook(sources, size=16)  # 2 models x 2 layers x 4 prototype shapes
    seen = universal_cost(sources[0], codebook)
    unseen = universal_cost(prototype_kan((8, 6, 3), prototypes=4, seed=7), codebook)
    assert seen["universal"]["coef_rel_l2"] < 0.05  # its own prototypes are in the codebook (Int8 aside)
    assert unseen["universal"]["coef_rel_l2"] > unseen["own"]["coef_rel_l2"] + 0.1
    assert unseen["universal"]["stored_bytes"] > unseen["universal"]["bytes_without_codebook"]


def test_bad_files_and_widths_are_clear_errors(tmp_path):
    other = tmp_path / "other.safetensors"
    other.write_bytes(save({"weights": np.zeros((3, 13), np.float32)}))
    with pytest.raises(SharekanError, match="not a universal codebook"):
        load_universal_codebook(other)
    codebook = fit_universal_codebook([prototype_kan((8, 6, 3), prototypes=4)], size=4)
    with pytest.raises(SharekanError, match="coefficients per shape"):
        compress_with_universal(KAN(KANConfig((4, 3), grid_size=5)), codebook)


def test_compress_command_with_the_universal_codebook(tmp_path, capsys):
    import json

    from sharekan_core.cli.main import main
    from sharekan_core.io import save_model

    model = prototype_kan((8, 6, 3), prototypes=4, seed=2)
    codebook_path, source, out = tmp_path / "u.safetensors", tmp_path / "m.safetensors", tmp_path / "m.skan"
    save_universal_codebook(fit_universal_codebook([model], size=8), codebook_path, [{"name": "m"}])
    save_model(model, source, {})
    assert main(["compress", str(source), "--codebook", str(codebook_path), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["universal_codebook"] == "u.safetensors" and report["coef_rel_l2"] < 0.05
