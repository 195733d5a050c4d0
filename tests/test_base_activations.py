"""Every base activation efficient-kan offers, through compression, the file and every runtime.

Reference: tests/efficient_kan_reference.py (efficient-kan's KANLinear from its published math: the base branch
is ``base_activation()(x) @ base_weight.T``, any torch activation class). Each model is trained a few dozen Adam
steps on scikit-learn's digits, imported, compressed at K = 64 Int8, and every runtime (the compressed-domain torch
path, the fused numba kernels on each of their routes, KANProgram, decompress) is held to the others.
"""
from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from digits_net import DigitsNet, digits_tensors, relative_error
from efficient_kan_reference import ReferenceKAN, train
from torch import nn

import sharekan_core as sk
from sharekan_core.cli.main import main
from sharekan_core.compression.compressed import decompress
from sharekan_core.compression.layer_statistics import feature_moment
from sharekan_core.format.compressed_file import compressed_fields, stored_tensors
from sharekan_core.format.integrity import encode_checked
from sharekan_core.format.multihead_file import encode_multihead, load_multihead
from sharekan_core.io.model_file import model_from_tensors
from sharekan_core.io.tensors import decode_header, read_safetensors
from sharekan_core.model.bspline import bspline_basis
from sharekan_core.model.kan import BASE_ACTIVATIONS
from sharekan_core.runtime.in_place import CompressedHead
from sharekan_core.runtime.program import KANProgram
from sharekan_core.runtime.routes import GROUPED_FROM_ROWS, TILE_FROM_ROWS

# Our name for each activation, and the torch class efficient-kan is built with (three of BASE_ACTIVATIONS).
ACTIVATIONS = {"gelu": nn.GELU, "identity": nn.Identity, "elu": nn.ELU}
TRAIN_ROWS = 600
ACCURACY_TOLERANCE = 0.04  # held-out accuracy may drop this much from dense at K = 64 Int8
AGREEMENT = 1e-5           # the runtimes against decompress, relative to the largest output


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return digits_tensors(None)


@pytest.fixture(scope="module", params=list(ACTIVATIONS))
def trained(request, digits):
    """(activation name, efficient-kan reference, imported dense KAN, its K = 64 Int8 compression)."""
    pixels, labels = digits
    torch.manual_seed(0)
    reference = train(ReferenceKAN([64, 16, 10], base_activation=ACTIVATIONS[request.param]),
                      pixels[:TRAIN_ROWS], labels[:TRAIN_ROWS], steps=40)
    model = model_from_tensors(reference.state_dict(), "reference", None, request.param).model
    compressed = sk.compress(model, sk.CompressionConfig(codebook_size=64, bits=8))
    return request.param, reference, model, compressed


def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((outputs.argmax(1) == labels).float().mean())


def test_every_runtime_computes_the_recorded_activation(trained, digits):
    name, reference, model, compressed = trained
    pixels, labels = digits
    held_out, held_labels = pixels[TRAIN_ROWS:], labels[TRAIN_ROWS:]
    assert compressed.base_activation == name and model.config.base_activation == name
    with torch.no_grad():
        assert relative_error(model(held_out), reference(held_out)) < 1e-5
        rebuilt = decompress(compressed)
        assert rebuilt.config.base_activation == name
        want = rebuilt(held_out)
        fused = sk.CompressedDomainKAN(compressed, backend="fused")
        torch_path = sk.CompressedDomainKAN(compressed, backend="torch")
        program = KANProgram(compressed)
        # the fused kernels on each route: row (B < 4), grouped, tile (B >= 1,024)
        for rows in (GROUPED_FROM_ROWS - 1, 200, TILE_FROM_ROWS):
            assert fused.runs_fused(held_out[:rows])
            assert relative_error(fused(held_out[:rows]), want[:rows]) < AGREEMENT, (name, rows)
        for runtime in (torch_path, program):
            assert relative_error(runtime(held_out), want) < AGREEMENT, (name, type(runtime).__name__)
        dense_accuracy, compressed_accuracy = accuracy(reference(held_out), held_labels), accuracy(want, held_labels)
    print(f"{name}: held-out accuracy dense {dense_accuracy:.3f}, K = 64 Int8 {compressed_accuracy:.3f}")
    assert compressed_accuracy >= dense_accuracy - ACCURACY_TOLERANCE, (name, dense_accuracy, compressed_accuracy)
    # the SiLU runtimes on the same codes give other outputs: the recorded activation is what is computed
    with torch.no_grad():
        as_silu = KANProgram(sk.CompressedKAN(compressed.codebooks, compressed.layers, compressed.config))(held_out)
    assert relative_error(as_silu, want) > 1e-3


def test_file_round_trip_keeps_the_activation(trained, tmp_path):
    name, _, _, compressed = trained
    sk.save_compressed(compressed, tmp_path / "m.skan")
    header = decode_header(read_safetensors(tmp_path / "m.skan")[1], "m.skan")
    assert header["base_activation"] == name
    loaded = sk.load_compressed(tmp_path / "m.skan")
    assert loaded.base_activation == name
    x = torch.rand(300, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(sk.CompressedDomainKAN(loaded)(x), sk.CompressedDomainKAN(compressed)(x))
    (tmp_path / "bundle.safetensors").write_bytes(encode_multihead([compressed, loaded], ["a", "b"]))
    bundle = load_multihead(tmp_path / "bundle.safetensors")
    assert [head.base_activation for head in bundle.heads.values()] == [name, name]


def with_header(compressed: sk.CompressedKAN, path, **changes) -> None:
    """Write ``compressed``'s file with header fields changed (None removes one), its checksum made to match."""
    fields = {**compressed_fields(compressed), **changes}
    fields = {key: value for key, value in fields.items() if value is not None}
    path.write_bytes(encode_checked(fields, {t.name: t.array for t in stored_tensors(compressed)}))


def test_a_file_without_the_field_is_silu(trained, tmp_path):
    """Files from before the field (and SiLU files now: they are written without it, byte for byte as before)."""
    name, _, _, compressed = trained
    with_header(compressed, tmp_path / "old.skan", base_activation=None)
    old = sk.load_compressed(tmp_path / "old.skan")
    assert old.base_activation == "silu" and decompress(old).config.base_activation == "silu"
    silu = sk.CompressedKAN(compressed.codebooks, compressed.layers, compressed.config, compressed.metadata)
    assert (tmp_path / "old.skan").read_bytes() == encode_checked(
        compressed_fields(silu), {t.name: t.array for t in stored_tensors(silu)})
    assert "base_activation" not in compressed_fields(silu)
    x = torch.rand(50, 64) * 2 - 1
    with torch.no_grad():
        assert relative_error(sk.CompressedDomainKAN(old)(x), silu_by_hand(decompress(old), x)) < AGREEMENT


def silu_by_hand(model: sk.KAN, x: torch.Tensor) -> torch.Tensor:
    """efficient-kan's forward with SiLU written out, from a dense KAN's tensors."""
    for layer in model.layers:
        bases = bspline_basis(x, layer.grid, layer.spline_order)
        spline = torch.einsum("nid,oid->no", bases, layer.scaled_spline_weight())
        x = (F.silu(x) @ layer.base_weight.t() + spline) * layer.output_scale + layer.output_bias
    return x


def test_an_unknown_activation_is_refused(trained, tmp_path, capsys):
    _, _, _, compressed = trained
    with_header(compressed, tmp_path / "swish.skan", base_activation="swish")
    with pytest.raises(sk.SharekanError, match="swish.skan: unknown base activation 'swish'; this tool computes silu"):
        sk.load_compressed(tmp_path / "swish.skan")
    for command in (["inspect"], ["predict", "--input", tmp_path / "x.npy", "--out", tmp_path / "y.npy"],
                    ["decompress", "--out", tmp_path / "d.safetensors"]):
        np.save(tmp_path / "x.npy", np.zeros((2, 64), np.float32))
        status = main([str(part) for part in [command[0], tmp_path / "swish.skan", *command[1:]]])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and err[0].startswith("error:") and "'swish'" in err[0], (command, err)
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "d.safetensors").exists()
    with pytest.raises(sk.SharekanError, match="unknown base activation 'swish'"):
        sk.CompressedKAN(compressed.codebooks, compressed.layers, compressed.config, base_activation="swish")
    (tmp_path / "bundle.safetensors").write_bytes(encode_multihead([compressed], ["a"]))
    tensors, raw = read_safetensors(tmp_path / "bundle.safetensors")
    header = decode_header(raw, "bundle")
    header["heads"][0]["base_activation"] = "swish"
    (tmp_path / "bad.safetensors").write_bytes(encode_checked(
        {key: value for key, value in header.items() if key != "checksum"},
        {key: tensor.numpy() for key, tensor in tensors.items()}))
    with pytest.raises(sk.SharekanError, match="bad.safetensors: unknown base activation 'swish'"):
        load_multihead(tmp_path / "bad.safetensors")


def test_decompress_to_efficient_kan_needs_the_activation_stated(trained, tmp_path, capsys):
    name, _, _, compressed = trained
    sk.save_compressed(compressed, tmp_path / "m.skan")
    status = main(["decompress", str(tmp_path / "m.skan"), "--layout", "efficient-kan", "--out", str(tmp_path / "e.pt")])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["build_with"]["base_activation"] == name
    assert "does not hold the base activation" in report["note"] and repr(name) in report["note"]
    state = torch.load(tmp_path / "e.pt", weights_only=True)
    library = ReferenceKAN([64, 16, 10], base_activation=ACTIVATIONS[name])
    library.load_state_dict(state, strict=True)
    x = torch.rand(100, 64) * 2 - 1
    with torch.no_grad():
        assert relative_error(library(x), decompress(compressed)(x)) < AGREEMENT
        if name != "identity":  # built with SiLU instead, the same state dict computes something else
            wrong = ReferenceKAN([64, 16, 10])
            wrong.load_state_dict(state, strict=True)
            assert relative_error(wrong(x), library(x)) > 1e-3


def test_gptq_weighs_the_recorded_activation(trained, digits):
    name, _, model, _ = trained
    layer, x = model.layers[0], digits[0][:200].numpy()
    moment = feature_moment(layer, x)
    features = {"gelu": F.gelu, "identity": lambda v: v, "elu": F.elu}[name](torch.from_numpy(x))
    np.testing.assert_allclose(moment[:64, :64], (features.t() @ features).double().numpy() / len(x), rtol=1e-4, atol=1e-6)


def test_in_place_compresses_a_non_silu_head(trained, digits):
    """compress_ reads the head's activation off its modules and compresses it as sk.compress does the import."""
    name, reference, _, compressed = trained
    pixels = digits[0][:300]
    torch.manual_seed(0)
    net = DigitsNet(copy.deepcopy(reference))
    in_place = sk.compress_(net, sk.CompressionConfig(codebook_size=64, bits=8))["head"]
    assert isinstance(net.head, CompressedHead) and in_place.base_activation == name
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(in_place.layers, compressed.layers))
    with torch.no_grad():
        assert relative_error(net(pixels), decompress(compressed)(net.backbone(pixels.view(-1, 1, 8, 8)))) < AGREEMENT


def test_load_compressed_into_refuses_a_module_of_another_activation(trained, digits):
    """A compressed head restored into a fresh net of the same widths but another base activation would silently
    change that net's function: refused, and the net is left as it was."""
    name, reference, _, _ = trained
    net = DigitsNet(copy.deepcopy(reference))
    sk.compress_(net, sk.CompressionConfig(codebook_size=64, bits=8))
    state = sk.compressed_state_dict(net)
    same = DigitsNet(ReferenceKAN([64, 16, 10], base_activation=ACTIVATIONS[name]))
    assert list(sk.load_compressed_into(same, state)) == ["head"]
    other = DigitsNet(ReferenceKAN([64, 16, 10], base_activation=nn.SiLU))
    before = copy.deepcopy(other.state_dict())
    with pytest.raises(sk.SharekanError, match=f"base activation '{name}'.*computes 'silu'"):
        sk.load_compressed_into(other, state)
    assert not isinstance(other.head, CompressedHead)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())


def test_a_gelu_program_exports_and_equals_predict(trained, tmp_path, capsys):
    name, _, _, compressed = trained
    if name != "gelu":
        pytest.skip("one .pte export (about 10 s) covers the export path")
    pytest.importorskip("executorch")
    from sharekan_core.runtime.executorch_export import load_pte

    sk.save_compressed(compressed, tmp_path / "g.skan")
    assert main(["export", str(tmp_path / "g.skan"), "--pte", str(tmp_path / "g.pte"), "--max-batch", "64"]) == 0
    x = torch.rand(40, 64) * 2 - 1
    np.save(tmp_path / "x.npy", x.numpy())
    assert main(["predict", str(tmp_path / "g.skan"), "--input", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "y.npy")]) == 0
    capsys.readouterr()
    predicted = torch.from_numpy(np.load(tmp_path / "y.npy"))
    assert relative_error(load_pte(tmp_path / "g.pte")(x), predicted) < AGREEMENT


@pytest.fixture(scope="module")
def shipped_codes():
    """The shipped digits KAN compressed once at K = 64 Int8 (its codes are reused under every activation)."""
    from sharekan_core.studio.settings import settings

    shipped = settings().models_dir / "digits_kan.safetensors"
    return sk.compress(sk.load_model(shipped), sk.CompressionConfig(codebook_size=64))


@pytest.mark.parametrize("name", sorted(BASE_ACTIVATIONS))
def test_every_activation_is_computed_alike_by_every_runtime(shipped_codes, digits, name):
    """All of BASE_ACTIVATIONS (the trained tests above cover three, on every fused route): the same codes recorded
    with each activation give one output from decompress (a dense KAN built with it), the torch path, the fused
    kernels' row and grouped routes (the activation is one table every route reads) and KANProgram (what the .pte
    runs), and an output of its own: no runtime falls back to SiLU."""
    codes = dataclasses.replace(shipped_codes, base_activation=name)
    held_out = digits[0][TRAIN_ROWS:TRAIN_ROWS + 200]  # the tile route (from 1,024 rows) reads the same table
    with torch.no_grad():
        want = decompress(codes)(held_out)
        fused = sk.CompressedDomainKAN(codes, backend="fused")
        for rows in (GROUPED_FROM_ROWS - 1, 200):  # the row and grouped routes
            assert fused.runs_fused(held_out[:rows])
            assert relative_error(fused(held_out[:rows]), want[:rows]) < AGREEMENT, (name, rows)
        for runtime in (sk.CompressedDomainKAN(codes, backend="torch"), KANProgram(codes)):
            assert relative_error(runtime(held_out), want) < AGREEMENT, (name, type(runtime).__name__)
        if name != "silu":
            assert relative_error(decompress(shipped_codes)(held_out), want) > 1e-4, name
