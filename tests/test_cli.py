"""The command line end to end, in subprocesses: JSON contract, one-line errors, no half-written files."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import prototype_kan
from sharekan_core.io import save_model

REPORT_KEYS = {"dense_bytes", "compressed_bytes", "file_bytes", "ratio", "coef_rel_l2", "layers"}


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sharekan_core", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.safetensors"
    save_model(prototype_kan((10, 8, 4), prototypes=6, seed=2), path, {"task": "test"})
    return path


def test_help_is_useful():
    result = cli("--help")
    assert result.returncode == 0
    for word in ("compress", "inspect", "decompress", "predict", "codebook", "pykan"):
        assert word in result.stdout
    sub = cli("compress", "--help")
    assert "--codebook-size" in sub.stdout and "--scope" in sub.stdout and "--bits" in sub.stdout


def test_compress_inspect_predict_decompress(model_path, tmp_path):
    out = tmp_path / "m.skan"
    result = cli("compress", model_path, "--codebook-size", 8, "--bits", 32, "--seed", 3, "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert REPORT_KEYS <= set(report)
    assert report["file_bytes"] == out.stat().st_size
    assert report["ratio"] == pytest.approx(report["dense_bytes"] / report["compressed_bytes"])
    assert report["coef_rel_l2"] < 1e-4
    assert len(report["layers"]) == 2

    info = json.loads(cli("inspect", model_path).stdout)
    assert info["edges"] == 10 * 8 + 8 * 4 and info["grid_size"] == 10 and info["spline_order"] == 3
    assert info["dense_bytes"] == report["dense_bytes"]

    x = np.random.default_rng(0).uniform(-1, 1, size=(7, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for source, name in ((model_path, "dense.npy"), (out, "comp.npy")):
        run = cli("predict", source, "--input", tmp_path / "x.npy", "--out", tmp_path / name)
        assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "comp.npy"), np.load(tmp_path / "dense.npy"), rtol=1e-4, atol=1e-4)

    run = cli("decompress", out, "--out", tmp_path / "back.safetensors")
    assert run.returncode == 0, run.stderr
    again = cli("predict", tmp_path / "back.safetensors", "--input", tmp_path / "x.npy", "--out", tmp_path / "b.npy")
    assert again.returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "b.npy"), np.load(tmp_path / "comp.npy"), rtol=1e-5, atol=1e-5)


def _assert_one_line_error(result, fragment):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args,fragment", [
    (["--codebook-size", 1], "codebook_size must be an integer from 2 to 65,536"),
    (["--codebook-size", 70000], "codebook_size"),
    (["--codebook-size", 16, "--seed", -3], "seed"),
])
def test_bad_parameters(model_path, tmp_path, args, fragment):
    out = tmp_path / "never.skan"
    _assert_one_line_error(cli("compress", model_path, *args, "--out", out), fragment)
    assert not out.exists()


def test_bad_bits_is_rejected_by_argparse(model_path, tmp_path):
    result = cli("compress", model_path, "--codebook-size", 4, "--bits", 6, "--out", tmp_path / "x")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_bad_files(tmp_path, model_path):
    (tmp_path / "junk.bin").write_bytes(b"\x00garbage" * 10)
    _assert_one_line_error(cli("inspect", tmp_path / "junk.bin"), "unknown format")
    blob = model_path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[: len(blob) // 3])
    _assert_one_line_error(cli("inspect", tmp_path / "cut.safetensors"), "cut.safetensors")
    _assert_one_line_error(cli("decompress", model_path, "--out", tmp_path / "o"), "not a compressed")
    _assert_one_line_error(cli("inspect", tmp_path / "nope.safetensors"), "no such file")


def test_nan_model_and_existing_output_kept(tmp_path):
    model = prototype_kan((4, 3), prototypes=2)
    with torch.no_grad():
        model.layers[0].spline_weight[0, 0, 0] = float("nan")
    save_model(model, tmp_path / "nan.safetensors")
    out = tmp_path / "existing.skan"
    out.write_bytes(b"keep me")
    _assert_one_line_error(cli("compress", tmp_path / "nan.safetensors", "-K", 4, "--out", out), "NaN")
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.skan", "nan.safetensors"]


def test_predict_bad_inputs(model_path, tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((3, 11), np.float32))
    _assert_one_line_error(cli("predict", model_path, "--input", tmp_path / "wide.npy", "--out", tmp_path / "y.npy"),
                           "expected shape (batch, 10)")
    np.save(tmp_path / "nan.npy", np.full((2, 10), np.nan, np.float32))
    _assert_one_line_error(cli("predict", model_path, "--input", tmp_path / "nan.npy", "--out", tmp_path / "y.npy"), "NaN")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _assert_one_line_error(cli("predict", model_path, "--input", tmp_path / "obj.npy", "--out", tmp_path / "y.npy"),
                           "obj.npy")
    assert not (tmp_path / "y.npy").exists()
    _assert_one_line_error(cli("predict", model_path, "--input", tmp_path / "wide.npy", "--out", tmp_path / "no/dir/y.npy"),
                           "expected shape")
