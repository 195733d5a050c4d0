"""FastKAN, ChebyKAN and Gram/KAGN nets from files: each family's net (the reference layers, written from the
libraries' published math and parameter names, trained on digits) saved as its state dict, read by the file importer
and held to the library's own forward, then compressed, run, inspected and decompressed back into the library's own
layout through the command line; what a state dict does not record is stated (--base-activation, --between) or the
file is refused in one error line, with nothing written."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from efficient_kan_reference import train
from other_basis_reference import ChebyKANLayer, FastKANLayer, GramLayer, LayerList
from torch import nn

import sharekan_core as sk
from digits_net import digits_tensors, relative_error
from sharekan_core.cli.main import main
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model

TOLERANCE = 1e-5  # relative: the import must compute the library's own outputs
TRAIN = 400


def build(family: str) -> nn.Module:
    """The family's usual [64, 16, 10] net (ChebyKAN's keeps a LayerNorm between its layers, as its examples do)."""
    if family == "FastKAN":
        return LayerList([FastKANLayer(64, 16), FastKANLayer(16, 10)])
    if family == "ChebyKAN":
        return nn.Sequential(ChebyKANLayer(64, 16), nn.LayerNorm(16), ChebyKANLayer(16, 10))
    return LayerList([GramLayer(64, 16), GramLayer(16, 10)])


STATED = {"FastKAN": ["--base-activation", "silu"], "ChebyKAN": ["--between", "layernorm"],
          "Gram/KAGN": ["--base-activation", "silu"]}
KEYWORDS = {"FastKAN": {"base_activation": "silu"}, "ChebyKAN": {"between": "layernorm"},
            "Gram/KAGN": {"base_activation": "silu"}}
FAMILIES = list(STATED)


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """600 of scikit-learn's digits, pixels scaled to [-1, 1], and their labels (the first 400 train)."""
    return digits_tensors(600)


@pytest.fixture(scope="module")
def nets(digits) -> dict[str, nn.Module]:
    """Each family's net, trained 30 full-batch steps."""
    built = {}
    for family in FAMILIES:
        torch.manual_seed(0)
        built[family] = train(build(family), digits[0][:TRAIN], digits[1][:TRAIN], steps=30).eval()
    return built


@pytest.fixture(scope="module")
def files(tmp_path_factory, nets, digits) -> dict:
    """Each net's state dict on disk, the held-out inputs and the training inputs as .npy."""
    folder = tmp_path_factory.mktemp("bases")
    np.save(folder / "held.npy", digits[0][TRAIN:].numpy())
    np.save(folder / "calibration.npy", digits[0][:TRAIN].numpy())
    paths = {}
    for family, net in nets.items():
        paths[family] = folder / f"{family.split('/')[0]}.pt"
        torch.save(net.state_dict(), paths[family])
    return {"folder": folder, **paths}


def cli(capsys, *args: str) -> tuple[int, dict | None, list[str]]:
    """Run the command line; its status, JSON report (None on failure) and stderr lines."""
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if status == 0 else None, captured.err.strip().splitlines()


@pytest.mark.parametrize("family", FAMILIES)
def test_the_file_import_computes_the_library_forward(files, nets, digits, family):
    net = sk.load_model(files[family], **KEYWORDS[family])
    assert isinstance(net, sk.BasisKAN) and net.family == family and len(net.layers) == 2
    held = digits[0][TRAIN:]
    with torch.no_grad():
        assert relative_error(net(held), nets[family](held)) < TOLERANCE


def test_a_head_inside_a_bigger_model_is_found_by_prefix(tmp_path, nets, digits):
    backbone = nn.Linear(64, 64)
    state = {**{f"backbone.{k}": v for k, v in backbone.state_dict().items()},
             **{f"head.{k}": v for k, v in nets["Gram/KAGN"].state_dict().items()}}
    torch.save(state, tmp_path / "net.pt")
    loaded = read_model(tmp_path / "net.pt", base_activation="silu", basis=True)  # the only KAN: found on its own
    assert loaded.prefix == "head." and loaded.keys_outside_prefix == ["backbone.weight", "backbone.bias"]
    with torch.no_grad():
        assert relative_error(loaded.model(digits[0][TRAIN:]), nets["Gram/KAGN"](digits[0][TRAIN:])) < TOLERANCE
    with pytest.raises(SharekanError, match=r"no KAN at prefix 'backbone\.'.*'head\.' \(Gram/KAGN, 2 layers\)"):
        read_model(tmp_path / "net.pt", prefix="backbone.", base_activation="silu", basis=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_compress_predict_inspect_and_decompress_from_the_command_line(capsys, files, nets, digits, family):
    folder, stated = files["folder"], STATED[family]
    out = folder / f"{family.split('/')[0]}.skan"
    status, report, _ = cli(capsys, "compress", files[family], *stated, "-K", "32", "--calibration",
                            folder / "calibration.npy", "--out", out)
    assert status == 0 and report["family"] == family and report["file_bytes"] == out.stat().st_size
    assert report["ratio"] > 3 and 0 < report["coef_rel_l2"] < 0.5 and len(report["layers"]) == 2
    status, summary, _ = cli(capsys, "inspect", out)
    assert summary["family"] == family and [layer["codebook_size"] for layer in summary["layers"]] == [32, 32]
    status, _, _ = cli(capsys, "predict", out, "--input", folder / "held.npy", "--out", folder / "coded.npy")
    coded = torch.from_numpy(np.load(folder / "coded.npy"))
    with torch.no_grad():
        dense = nets[family](digits[0][TRAIN:])
    assert status == 0 and coded.shape == dense.shape
    agreement = float((coded.argmax(1) == dense.argmax(1)).float().mean())
    assert agreement > 0.9, agreement  # K = 32, Int8: the compressed net mostly decides as the dense one
    status, back, _ = cli(capsys, "decompress", out, "--out", folder / "back.pt")
    assert status == 0 and back["layout"] == "native" and back["build_with"]["widths"] == [64, 16, 10]
    fresh = build(family)
    fresh.load_state_dict(torch.load(folder / "back.pt", weights_only=True), strict=True)  # the library's own class
    with torch.no_grad():
        assert relative_error(fresh.eval()(digits[0][TRAIN:]), coded) < TOLERANCE


@pytest.mark.parametrize(("family", "stated", "message"), [
    ("FastKAN", [], r"does not record its activation; state silu"),
    ("Gram/KAGN", [], r"does not record its activation"),
    ("ChebyKAN", [], r"1\.weight, 1\.bias sit between the ChebyKAN layers.*--between layernorm"),
    ("ChebyKAN", ["--between", "layernorm", "--base-activation", "silu"], r"has no base activation; drop"),
    ("FastKAN", ["--base-activation", "silu", "--method", "kmeans"], r"SHARe-KAN only"),
    ("FastKAN", ["--base-activation", "silu", "--grid", "5,3,-1,1"], r"drop it"),
])
def test_what_a_state_dict_does_not_record_must_be_stated(capsys, files, family, stated, message):
    out = files["folder"] / "refused.skan"
    status, _, lines = cli(capsys, "compress", files[family], *stated, "-K", "8", "--out", out)
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error:"), lines
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def save(tmp_path, state: dict) -> str:
    torch.save(state, tmp_path / "bad.pt")
    return str(tmp_path / "bad.pt")


def test_files_whose_forward_cannot_be_reproduced_are_refused(tmp_path, nets):
    fast = nets["FastKAN"].state_dict()
    uneven = {**fast, "layers.0.rbf.grid": fast["layers.0.rbf.grid"] ** 3}
    with pytest.raises(SharekanError, match=r"layers\.0\.rbf\.grid is not evenly increasing"):
        read_model(save(tmp_path, uneven), base_activation="silu", basis=True)
    poisoned = dict(fast)
    poisoned["layers.1.spline_linear.weight"] = poisoned["layers.1.spline_linear.weight"].clone()
    poisoned["layers.1.spline_linear.weight"][0, 0] = float("nan")
    with pytest.raises(SharekanError, match=r"layers\.1\.spline_linear\.weight contains NaN"):
        read_model(save(tmp_path, poisoned), base_activation="silu", basis=True)
    gram = nets["Gram/KAGN"].state_dict()  # a dropout or activation between layers leaves a gap in the indices
    gapped = {key.replace("layers.1.", "layers.2."): value for key, value in gram.items()}
    with pytest.raises(SharekanError, match=r"layers\.1 between the Gram/KAGN layers holds no tensors"):
        read_model(save(tmp_path, gapped), base_activation="silu", basis=True)
    extra = {**fast, "layers.0.rbf.scale": torch.ones(1)}
    with pytest.raises(SharekanError, match=r"layers\.0\.rbf\.scale is not part of the layer"):
        read_model(save(tmp_path, extra), base_activation="silu", basis=True)
    trailing = {**nets["ChebyKAN"].state_dict(), "3.weight": torch.ones(10), "3.bias": torch.zeros(10)}
    with pytest.raises(SharekanError, match=r"2 tensors that the ChebyKAN importer does not use: 3\.weight, 3\.bias"):
        read_model(save(tmp_path, trailing), between="layernorm", basis=True)
    mixed = {**{f"0.{k}": v for k, v in build("ChebyKAN")[0].state_dict().items()},
             **{f"1.{k}": v for k, v in FastKANLayer(16, 10).state_dict().items()}}
    with pytest.raises(SharekanError, match=r"names 2 KANs laid out differently|holds 2 KANs"):
        read_model(save(tmp_path, mixed), between="layernorm", basis=True)


def test_commands_that_take_b_spline_kans_only_refuse_these_nets_by_name(capsys, files):
    with pytest.raises(SharekanError, match=r"holds a FastKAN net, which this command does not take; inspect, compress"):
        read_model(files["FastKAN"], base_activation="silu")
    out = files["folder"] / "budget.skan"
    status, _, lines = cli(capsys, "compress", files["FastKAN"], "--base-activation", "silu", "--max-bytes", 5000,
                           "--out", out)
    assert status == 2 and lines == [f"error: FastKAN.pt: --max-bytes and --codebook search B-spline KANs; compress a "
                                     "FastKAN net with -K and --bits"] and not out.exists()


def test_a_damaged_compressed_file_is_refused_and_nothing_is_written(capsys, tmp_path, files, nets):
    compressed = sk.compress(sk.load_model(files["FastKAN"], base_activation="silu"), sk.CompressionConfig(codebook_size=8))
    good = tmp_path / "good.skan"
    sk.save_compressed(compressed, good)
    assert sk.load_basis_kan(good).num_edges == compressed.num_edges
    data = bytearray(good.read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "flipped.skan").write_bytes(bytes(data))
    status, _, lines = cli(capsys, "predict", tmp_path / "flipped.skan", "--input", files["folder"] / "held.npy",
                           "--out", tmp_path / "out.npy")
    assert status == 2 and len(lines) == 1 and "corrupted file (tensor data does not match its checksum)" in lines[0]
    assert not (tmp_path / "out.npy").exists()
    with pytest.raises(SharekanError, match=r"not a B-spline KAN's compressed file.*sk\.load_basis_kan"):
        sk.load_compressed(good)
    status, _, lines = cli(capsys, "decompress", good, "--layout", "efficient-kan", "--out", tmp_path / "x.pt")
    assert status == 2 and "--layout native" in lines[0] and not (tmp_path / "x.pt").exists()


def test_the_exported_program_holds_the_codes_at_their_width_and_matches_eager(capsys, tmp_path, files, digits):
    from sharekan_core.runtime.basis_program import BasisProgram

    out = tmp_path / "cheby.skan"
    assert cli(capsys, "compress", files["ChebyKAN"], "--between", "layernorm", "-K", "16", "--bits", "4", "--out", out)[0] == 0
    stored = sk.load_basis_kan(out)
    program = BasisProgram(stored).eval()
    held = digits[0][TRAIN:]
    with torch.no_grad():
        assert relative_error(program(held), sk.load_runnable(out).module(held)) < TOLERANCE
    codes = [buffer for name, buffer in program.named_buffers() if name.endswith("stream")]
    assert codes and all(buffer.dtype == torch.uint8 for buffer in codes)  # indices, codebook, gains: packed bytes
    wide = [name for name, buffer in program.named_buffers() if buffer.dtype == torch.int64]
    assert wide == ["layers.0.basis.orders", "layers.1.basis.orders"]  # only the Chebyshev orders 0..4, no indices
    status, report, _ = cli(capsys, "export", out, "--pte", tmp_path / "cheby.pte")
    assert status == 0 and report["kind"] == "compressed" and report["max_relative_difference_vs_eager"] < TOLERANCE


def test_a_single_fastkan_layer_without_its_layernorm_is_read_as_the_library_computes_it(tmp_path, digits):
    """FastKANLayer(use_layernorm=False), saved alone: a one-layer group with no container and no norm tensors."""
    torch.manual_seed(0)
    layer = FastKANLayer(64, 10)
    layer.layernorm = nn.Identity()  # what use_layernorm=False builds: no norm, no norm tensors
    layer = train(layer, digits[0][:TRAIN], digits[1][:TRAIN], steps=10).eval()
    assert not any(key.startswith("layernorm.") for key in layer.state_dict())
    torch.save(layer.state_dict(), tmp_path / "layer.pt")
    net = sk.load_model(tmp_path / "layer.pt", base_activation="silu")
    assert len(net.layers) == 1 and net.layers[0].basis.norm is None
    with torch.no_grad():
        assert relative_error(net(digits[0][TRAIN:]), layer(digits[0][TRAIN:])) < TOLERANCE
