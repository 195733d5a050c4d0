"""The command line through ``main(argv)`` in-process: JSON contract, one-line errors, no half-written files,
and one real ``python -m sharekan_core`` process (help without torch, progress kept off a pipe)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import prototype_kan
from sharekan_core.cli.main import main
from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.format.compressed_file import load_compressed
from sharekan_core.io import save_model

REPORT_KEYS = {"dense_bytes", "compressed_bytes", "file_bytes", "ratio", "coef_rel_l2", "layers"}


def cli(capsys, *args):
    """Run one command in this process; return (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.safetensors"
    save_model(prototype_kan((10, 8, 4), prototypes=6, seed=2), path, {"task": "test"})
    return path


def test_help_answers_in_a_fresh_process_without_importing_torch():
    probe = ("import sys, runpy; sys.argv = ['sharekan_core', '--help']\n"
             "try:\n    runpy.run_module('sharekan_core', run_name='__main__')\n"
             "except SystemExit as e:\n    assert e.code == 0\n"
             "heavy = sorted({'torch', 'executorch', 'sklearn', 'sharekan_core.experiments'} & set(sys.modules))\n"
             "print('heavy:', heavy)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout
    for word in ("compress", "inspect", "decompress", "predict", "codebook", "pykan"):
        assert word in result.stdout


def test_subcommand_help(capsys):
    status, out, _ = cli(capsys, "compress", "--help")
    assert status == 0
    assert "--codebook-size" in out and "--scope" in out and "--bits" in out and "2..65536" in out


def test_compress_in_a_real_process_prints_json_and_no_progress_on_a_pipe(model_path, tmp_path):
    out = tmp_path / "m.skan"
    result = subprocess.run([sys.executable, "-m", "sharekan_core", "compress", str(model_path), "-K", "8",
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["file_bytes"] == out.stat().st_size
    assert result.stderr == ""  # stderr is a pipe: no progress bar, no library warnings


def test_progress_reaches_a_terminal_only(model_path, tmp_path, monkeypatch, capsys):
    from sharekan_core.cli.terminal import progress_bar

    class Terminal:
        def __init__(self):
            self.text = ""

        def write(self, text):
            self.text += text

        def flush(self):
            pass

        def isatty(self):
            return True

    terminal = Terminal()
    with progress_bar(terminal) as progress:
        progress(0.5, "halfway")
    assert "50%" in terminal.text and "halfway" in terminal.text
    status, _, err = cli(capsys, "compress", model_path, "-K", 4, "--out", tmp_path / "q.skan")
    assert status == 0 and err == ""  # capsys's stderr is not a terminal


def test_compress_inspect_predict_decompress(model_path, tmp_path, capsys):
    out = tmp_path / "m.skan"
    status, stdout, err = cli(capsys, "compress", model_path, "--codebook-size", 8, "--bits", 32, "--seed", 3,
                              "--out", out)
    assert status == 0, err
    report = json.loads(stdout)
    assert REPORT_KEYS <= set(report)
    assert report["file_bytes"] == out.stat().st_size
    assert report["coef_rel_l2"] < 1e-4
    assert len(report["layers"]) == 2

    status, stdout, _ = cli(capsys, "inspect", model_path)
    info = json.loads(stdout)
    assert info["edges"] == 10 * 8 + 8 * 4 and info["grid_size"] == 10 and info["spline_order"] == 3
    assert info["widths"] == [10, 8, 4] and [layer["edges"] for layer in info["layers"]] == [80, 32]
    # FP32: per edge 13 coefficients + base weight + scaler; per output 2 affine values; grids of 17 knots per input
    assert info["dense_bytes"] == report["dense_bytes"] == 4 * (112 * 15 + 2 * 12 + 17 * 18)

    x = np.random.default_rng(0).uniform(-1, 1, size=(7, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for source, name in ((model_path, "dense.npy"), (out, "comp.npy")):
        status, _, err = cli(capsys, "predict", source, "--input", tmp_path / "x.npy", "--out", tmp_path / name)
        assert status == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "comp.npy"), np.load(tmp_path / "dense.npy"), rtol=1e-4, atol=1e-4)

    status, _, err = cli(capsys, "decompress", out, "--out", tmp_path / "back.safetensors")
    assert status == 0, err
    status, _, _ = cli(capsys, "predict", tmp_path / "back.safetensors", "--input", tmp_path / "x.npy",
                       "--out", tmp_path / "b.npy")
    assert status == 0
    np.testing.assert_allclose(np.load(tmp_path / "b.npy"), np.load(tmp_path / "comp.npy"), rtol=1e-5, atol=1e-5)


def _assert_one_line_error(result, fragment):
    status, _, err = result
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert fragment in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("args,fragment", [
    (["--codebook-size", 1], "codebook_size must be an integer from 2 to 65,536"),
    (["--codebook-size", 70000], "codebook_size"),
    (["--codebook-size", 16, "--seed", -3], "seed"),
    (["--codebook-size", 16, "--layer-bits", "8,4,4,4,4,4,4"], "layer_bits has 7 width(s)"),
])
def test_bad_parameters(model_path, tmp_path, args, fragment, capsys):
    out = tmp_path / "never.skan"
    _assert_one_line_error(cli(capsys, "compress", model_path, *args, "--out", out), fragment)
    assert not out.exists()


def test_bad_bits_is_rejected_by_argparse(model_path, tmp_path, capsys):
    status, _, err = cli(capsys, "compress", model_path, "--codebook-size", 4, "--bits", 9, "--out", tmp_path / "x")
    assert status == 2 and "invalid choice" in err


def test_bad_layer_bits_are_rejected_by_argparse(model_path, tmp_path, capsys):
    for text in ("8,x", "8,5", ""):
        status, _, err = cli(capsys, "compress", model_path, "-K", 4, "--layer-bits", text, "--out", tmp_path / "x")
        assert status == 2 and "--layer-bits" in err and not (tmp_path / "x").exists()


def test_bad_files(tmp_path, model_path, capsys):
    (tmp_path / "junk.bin").write_bytes(b"\x00garbage" * 10)
    _assert_one_line_error(cli(capsys, "inspect", tmp_path / "junk.bin"), "unknown format")
    blob = model_path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[: len(blob) // 3])
    _assert_one_line_error(cli(capsys, "inspect", tmp_path / "cut.safetensors"), "cut.safetensors")
    _assert_one_line_error(cli(capsys, "decompress", model_path, "--out", tmp_path / "o"), "not a compressed")
    _assert_one_line_error(cli(capsys, "inspect", tmp_path / "nope.safetensors"), "no such file")


def test_nan_model_and_existing_output_kept(tmp_path, capsys):
    model = prototype_kan((4, 3), prototypes=2)
    with torch.no_grad():
        model.layers[0].spline_weight[0, 0, 0] = float("nan")
    save_model(model, tmp_path / "nan.safetensors")
    out = tmp_path / "existing.skan"
    out.write_bytes(b"keep me")
    _assert_one_line_error(cli(capsys, "compress", tmp_path / "nan.safetensors", "-K", 4, "--out", out), "NaN")
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.skan", "nan.safetensors"]


def test_predict_bad_inputs(model_path, tmp_path, capsys):
    np.save(tmp_path / "wide.npy", np.zeros((3, 11), np.float32))
    _assert_one_line_error(cli(capsys, "predict", model_path, "--input", tmp_path / "wide.npy",
                               "--out", tmp_path / "y.npy"), "expected shape (batch, 10)")
    np.save(tmp_path / "nan.npy", np.full((2, 10), np.nan, np.float32))
    _assert_one_line_error(cli(capsys, "predict", model_path, "--input", tmp_path / "nan.npy",
                               "--out", tmp_path / "y.npy"), "NaN")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _assert_one_line_error(cli(capsys, "predict", model_path, "--input", tmp_path / "obj.npy",
                               "--out", tmp_path / "y.npy"), "obj.npy")
    assert not (tmp_path / "y.npy").exists()
    _assert_one_line_error(cli(capsys, "predict", model_path, "--input", tmp_path / "wide.npy",
                               "--out", tmp_path / "no/dir/y.npy"), "output folder does not exist")


def test_scaling_and_export_batch_ranges(model_path, capsys):
    _assert_one_line_error(cli(capsys, "scaling", model_path, "-K", 4, "--max-heads", 0),
                           "max_heads must be an integer from 1 to 10,000")
    _assert_one_line_error(cli(capsys, "export", model_path, "--pte", "never.pte", "--max-batch", 5000),
                           "--max-batch must be an integer from 1 to 4,096")


def test_native_runtime_lines_on_the_stderr_descriptor_are_hidden(capfd):
    import os

    from sharekan_core.cli.terminal import native_stderr_silenced

    with native_stderr_silenced():
        os.write(2, b"[cpuinfo_utils.cpp:71] Reading file /sys/devices/soc0/image_version\n")
    os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"


@pytest.fixture
def head_checkpoint(tmp_path):
    """A bigger model's state dict (a linear 'backbone' and a KAN at 'head.'), as a bare torch checkpoint."""
    head = prototype_kan((10, 8, 4), prototypes=6, seed=2)
    state = {"backbone.weight": torch.randn(10, 10), "backbone.bias": torch.zeros(10),
             **{f"head.{key}": value for key, value in head.state_dict().items()}}
    torch.save(state, tmp_path / "net.pt")
    x = np.random.default_rng(0).uniform(-1, 1, size=(5, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with torch.no_grad():
        expected = head(torch.from_numpy(x)).numpy()
    return tmp_path / "net.pt", expected


def test_a_kan_head_is_found_listed_and_picked_by_prefix(head_checkpoint, tmp_path, capsys):
    path, expected = head_checkpoint
    source = ("--base-activation", "silu")
    status, stdout, err = cli(capsys, "inspect", path, *source)
    assert status == 0, err
    info = json.loads(stdout)
    assert info["prefix"] == "head." and info["tensors_outside_prefix"] == 2 and info["base_activation"] == "silu"
    assert info["kan_groups"] == [{"prefix": "head.", "family": "efficient-kan", "layers": 2}]
    for prefix in ([], ["--prefix", "head."]):
        status, _, err = cli(capsys, "predict", path, *source, *prefix, "--input", tmp_path / "x.npy",
                             "--out", tmp_path / "y.npy")
        assert status == 0, err
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-6)
    status, stdout, err = cli(capsys, "compress", path, *source, "--prefix", "head", "-K", 8, "--out", tmp_path / "h.skan")
    assert status == 0, err
    assert json.loads(stdout)["prefix"] == "head."
    status, stdout, _ = cli(capsys, "inspect", tmp_path / "h.skan")
    assert status == 0


def test_inspect_lists_several_kans_and_each_command_takes_prefix(head_checkpoint, tmp_path, capsys):
    path, _ = head_checkpoint
    state = torch.load(path, weights_only=True)
    torch.save({"student": state, "teacher": state}, tmp_path / "two.pt")
    status, stdout, err = cli(capsys, "inspect", tmp_path / "two.pt")
    assert status == 0, err
    assert [group["prefix"] for group in json.loads(stdout)["kan_groups"]] == ["student.head.", "teacher.head."]
    out = tmp_path / "never"
    for command in (["compress", "-K", 8, "--out", out], ["predict", "--input", tmp_path / "x.npy", "--out", out],
                    ["evaluate", "--task", "digits"], ["export", "--pte", out], ["inspect"]):
        _assert_one_line_error(cli(capsys, command[0], tmp_path / "two.pt", *command[1:], "--base-activation", "silu",
                                   "--prefix", "student.heads."),
                               "no KAN at prefix 'student.heads.'; KANs found: 'student.head.' (efficient-kan, 2 layers)")
        assert not out.exists()
    _assert_one_line_error(cli(capsys, "predict", tmp_path / "two.pt", "--base-activation", "silu", "--input",
                               tmp_path / "x.npy", "--out", out), "holds 2 KANs, at 'student.head.'")


def test_unrecorded_activation_and_unused_tensors_are_refused_and_non_silu_compresses(head_checkpoint, tmp_path, capsys):
    path, _ = head_checkpoint
    out = tmp_path / "never.skan"
    _assert_one_line_error(cli(capsys, "compress", path, "-K", 8, "--out", out),
                           "does not record its base activation; state silu")
    state = torch.load(path, weights_only=True)
    torch.save({**state, "head.norms.0.weight": torch.ones(8)}, tmp_path / "normed.pt")
    _assert_one_line_error(cli(capsys, "compress", tmp_path / "normed.pt", "--base-activation", "silu", "-K", 8,
                               "--out", out), "1 tensor under prefix 'head.' that the efficient-kan importer does not "
                                              "use: head.norms.0.weight")
    status, _, err = cli(capsys, "compress", path, "--base-activation", "gelu", "-K", 8, "--out", tmp_path / "g.skan")
    assert status == 0 and load_compressed(tmp_path / "g.skan").base_activation == "gelu", err  # compresses since issue 28
    _assert_one_line_error(cli(capsys, "predict", tmp_path / "x.npy", "--prefix", "head.", "--input",
                               tmp_path / "x.npy", "--out", out), "unknown format")
    assert not out.exists()
    status, _, err = cli(capsys, "compress", path, "--base-activation", "swish", "-K", 8, "--out", out)
    assert status == 2 and "invalid choice" in err


def test_prefix_on_a_compressed_file_is_refused(model_path, tmp_path, capsys):
    out = tmp_path / "m.skan"
    assert cli(capsys, "compress", model_path, "-K", 8, "--out", out)[0] == 0
    _assert_one_line_error(cli(capsys, "inspect", out, "--prefix", "head."), "--prefix applies to dense model files")
    _assert_one_line_error(cli(capsys, "predict", out, "--base-activation", "silu", "--input", tmp_path / "x.npy",
                               "--out", tmp_path / "y.npy"), "--base-activation applies to dense model files")


@pytest.mark.parametrize("fault,fragment", [
    ("nan", "head.layers.1.spline_weight contains NaN"),
    ("efficient_shape", "layers.1.base_weight has shape (3, 5), expected (4, 8)"),
    ("pykan_shape", "head.act_fun.1.mask has shape (2, 2), expected (3, 2)"),
    ("pykan_nan", "head.act_fun.1.coef contains NaN"),
])
def test_nan_coefficients_and_mismatched_family_tensors(tmp_path, capsys, fault, fragment):
    if fault.startswith("pykan"):
        state = {}
        for layer, (inputs, outputs) in enumerate(((4, 3), (3, 2))):
            state.update({f"act_fun.{layer}.coef": torch.zeros(inputs, outputs, 8),
                          f"act_fun.{layer}.grid": torch.linspace(-1, 1, 12).expand(inputs, 12),
                          **{f"act_fun.{layer}.{name}": torch.ones(inputs, outputs)
                             for name in ("mask", "scale_base", "scale_sp")},
                          **{f"{name}_{layer}": torch.ones(outputs)
                             for name in ("node_scale", "node_bias", "subnode_scale", "subnode_bias")}})
        if fault == "pykan_nan":
            state["act_fun.1.coef"][0, 0, 0] = float("nan")
        else:
            state["act_fun.1.mask"] = torch.ones(2, 2)
        state = {f"head.{key}": value for key, value in state.items()}
    else:
        state = {f"head.{key}": value.clone() for key, value in prototype_kan((10, 8, 4), prototypes=3).state_dict().items()}
        if fault == "nan":
            state["head.layers.1.spline_weight"][0, 0, 0] = float("nan")
        else:
            state["head.layers.1.base_weight"] = torch.zeros(3, 5)
    torch.save(state, tmp_path / "bad.pt")
    out = tmp_path / "never.skan"
    _assert_one_line_error(cli(capsys, "compress", tmp_path / "bad.pt", "--base-activation", "silu", "-K", 4,
                               "--out", out), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


def test_a_first_compressed_run_says_the_kernels_compile(monkeypatch):
    """The progress line says the fused kernels compile on a first run, and says nothing once they are cached."""
    from sharekan_core.cli.terminal import announce_first_call
    from sharekan_core.runtime import compressed_kan

    shown = []
    module = compressed_kan.CompressedDomainKAN(compress(prototype_kan((4, 3), prototypes=3),
                                                         CompressionConfig(codebook_size=4)))
    monkeypatch.setattr(compressed_kan, "kernels_cached", lambda: False)
    announce_first_call(module, lambda fraction, message: shown.append(message))
    monkeypatch.setattr(compressed_kan, "kernels_cached", lambda: True)
    announce_first_call(module, lambda fraction, message: shown.append(message))
    assert shown == [compressed_kan.COMPILE_NOTE] and "first run only" in shown[0]


def test_detect_teacher_prints_the_original_ssd_in_the_heads_json(capsys):
    """``detect --teacher`` is the reference column: OpenCV's own run of the graph on the full-size photo
    (tests/fixtures/ssd_opencv_reference.json), in the same JSON as a KAN head's detections."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    fixture = json.loads((root / "tests" / "fixtures" / "ssd_opencv_reference.json").read_text())
    photo = root / fixture["image"]
    status, out, _ = cli(capsys, "detect", photo, "--teacher", "--score", "0.3")
    assert status == 0
    teacher = json.loads(out)
    expected = fixture["detections_score_ge_0.3_voc"]
    assert len(teacher) == len(expected)
    width, height = 548, 342  # messi5.jpg
    for ours, ref in zip(teacher, sorted(expected, key=lambda r: -r["score"])):
        assert ours["label"] == "person" and ref["coco_id"] == 1
        assert ours["score"] == pytest.approx(ref["score"], abs=1e-4)
        box = [min(max(v, 0.0), 1.0) * s for v, s in zip(ref["box"], (width, height, width, height))]
        assert ours["box"] == pytest.approx(box, abs=0.05)
    status, out, _ = cli(capsys, "detect", photo, "--score", "0.3")
    assert status == 0 and {tuple(sorted(d)) for d in json.loads(out)} <= {tuple(sorted(teacher[0]))}
    status, _, err = cli(capsys, "detect", photo, "--teacher", "--head", photo)
    assert status == 2 and "not allowed" in err


@pytest.mark.parametrize("command,flag,other", [
    (["predict", "m.skan", "--input", "x.npy", "--out", "y.npy"], "--bundle-head", "--head-file"),
    (["evaluate", "m.skan"], "--bundle-head", "--head-file"),
    (["export", "m.skan", "--pte", "m.pte"], "--bundle-head", "--head-file"),
    (["detect", "photo.jpg"], "--head-file", "--bundle-head"),
    (["export-detector", "--pte", "d.pte"], "--head-file", "--bundle-head"),
])
def test_a_head_s_name_and_a_head_s_file_have_distinct_flags_and_old_head_still_works(command, flag, other, capsys):
    """Issue 29: --head meant a bundle's head in some commands and a head file in others."""
    from sharekan_core.cli.main import build_parser
    parser = build_parser()
    assert parser.parse_args([*command, flag, "h"]).head == "h"
    capsys.readouterr()
    assert parser.parse_args([*command, "--head", "h"]).head == "h"
    assert f"warning: --head is deprecated here; use {flag}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args([*command, other, "h"])
    status, out, _ = cli(capsys, command[0], "--help")
    assert status == 0 and flag in out and "--head " not in out and "--head\n" not in out


def test_detect_reads_a_foreign_head_checkpoint_with_its_source_options(tmp_path, capsys):
    """Issue 28: a detection head trained in efficient-kan and saved inside a bigger checkpoint needs --prefix and
    --base-activation on detect and export-detector, as on every command that reads a model."""
    from pathlib import Path

    from efficient_kan_reference import ReferenceKAN

    photo = Path(__file__).resolve().parents[1] / "assets" / "photos" / "messi5.jpg"
    torch.manual_seed(0)
    torch.save({"step": torch.tensor(3), "head": ReferenceKAN([576, 4, 150]).state_dict()}, tmp_path / "mine.pt")
    status, _, err = cli(capsys, "detect", photo, "--head-file", tmp_path / "mine.pt")
    assert status == 2 and "does not record its base activation" in err and err.count("\n") == 1
    status, out, err = cli(capsys, "detect", photo, "--head-file", tmp_path / "mine.pt", "--prefix", "head.",
                           "--base-activation", "silu", "--score", "0.99")
    assert status == 0, err
    assert isinstance(json.loads(out), list)
    for command in (["detect", photo], ["export-detector", "--pte", tmp_path / "d.pte"]):
        status, _, err = cli(capsys, *command, "--base-activation", "silu")
        assert status == 2 and "--base-activation describe a head file; pass one with --head-file" in err
    assert not (tmp_path / "d.pte").exists()
    status, _, err = cli(capsys, "detect", photo, "--teacher", "--prefix", "head.")
    assert status == 2 and "or the teacher, not both" in err
