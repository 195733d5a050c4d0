"""1ssb/torchkan KANs (B-spline layers, a LayerNorm and PReLU after each): a state-dict file is read with its base
activation stated (io/torchkan.torchkan_basis_kan: each layer a basis layer over its B-splines, the LayerNorm and PReLU
after its sum kept dense), compressed, run and written back in torchkan's layout from the command line; the live
module is imported exactly as dense KANLayers between its own norms and compressed in place with compress_
(runtime/torchkan_in_place.py), saved with compressed_state_dict and loaded back."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from digits_net import DigitsNet, digits_tensors, relative_error
from efficient_kan_reference import train
from torch import nn
from torchkan_reference import TorchKAN

import sharekan_core as sk
import sharekan_core.io
from sharekan_core.errors import SharekanError
from sharekan_core.runtime.in_place import CompressedHead
from sharekan_core.runtime.torchkan_in_place import TorchKANStack, dense_stack

TOLERANCE = 1e-5  # relative: the import must equal torchkan's own forward
TRAIN, WIDTHS = 500, [64, 12, 10]
CONFIG = sk.CompressionConfig(codebook_size=64, bits=8)
ACCURACY_DROP = 0.04  # held-out accuracy compressed (K = 64, Int8, calibrated) may lose at most this much


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """800 digits: the first 500 train and calibrate, the other 300 are held out."""
    return digits_tensors(800)


def _net(activation: type[nn.Module] = nn.SiLU, **options) -> DigitsNet:
    torch.manual_seed(0)
    return DigitsNet(TorchKAN(WIDTHS, base_activation=activation, **options))


@pytest.fixture(scope="module")
def trained(digits) -> dict:
    """A SiLU torchkan head on the CNN backbone, 30 full-batch Adam steps: its state dict."""
    return train(_net(), digits[0][:TRAIN], digits[1][:TRAIN], steps=30).state_dict()


def _trained_net(state: dict) -> DigitsNet:
    net = _net()
    net.load_state_dict(state)
    return net.eval()


def _features(net: DigitsNet, pixels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.backbone(pixels.view(-1, 1, 8, 8))


@pytest.mark.parametrize("options", [{}, {"spline_scalers": True}], ids=["PReLUs", "earlier version: spline_scalers"])
def test_a_torchkan_file_compresses_and_goes_back_to_torchkan_from_the_command_line(tmp_path, capsys, digits, options):
    from sharekan_core.cli.main import main

    torch.manual_seed(0)
    library = train(TorchKAN(WIDTHS, base_activation=nn.SiLU, **options), digits[0][:TRAIN], digits[1][:TRAIN],
                    steps=20).eval()
    torch.save(library.state_dict(), tmp_path / "kan.pt")
    held = digits[0][TRAIN:]
    imported = sk.load_model(tmp_path / "kan.pt", base_activation="silu")
    with torch.no_grad():
        assert relative_error(imported(held), library(held)) < TOLERANCE
    np.save(tmp_path / "held.npy", held.numpy())
    np.save(tmp_path / "train.npy", digits[0][:TRAIN].numpy())

    def cli(*args) -> dict | None:
        status = main([str(arg) for arg in args])
        out = capsys.readouterr().out
        return json.loads(out) if status == 0 else None

    report = cli("compress", tmp_path / "kan.pt", "--base-activation", "silu", "-K", "64", "--calibration",
                 tmp_path / "train.npy", "--out", tmp_path / "kan.skan")
    assert report["family"] == "torchkan" and report["ratio"] > 3
    assert cli("predict", tmp_path / "kan.skan", "--input", tmp_path / "held.npy", "--out", tmp_path / "coded.npy")
    coded = torch.from_numpy(np.load(tmp_path / "coded.npy"))
    with torch.no_grad():
        dense = library(held)
    assert float((coded.argmax(1) == dense.argmax(1)).float().mean()) > 0.9
    back = cli("decompress", tmp_path / "kan.skan", "--out", tmp_path / "back.pt")
    assert back["build_with"]["grid_size"] == 5 and back["build_with"]["base_activation"] == "silu"
    fresh = TorchKAN(WIDTHS, base_activation=nn.SiLU, **options)
    fresh.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True), strict=True)
    with torch.no_grad():
        assert relative_error(fresh.eval()(held), coded) < TOLERANCE


def test_a_torchkan_file_states_its_activation_and_a_head_is_found_by_prefix(tmp_path, capsys, trained, digits):
    from sharekan_core.cli.main import main

    net = _trained_net(trained)
    torch.save(net.head.state_dict(), tmp_path / "kan.pt")
    torch.save(net.state_dict(), tmp_path / "net.pt")
    with pytest.raises(SharekanError, match=r"kan\.pt: a torchkan state dict does not record its base activation; state gelu"):
        sk.load_model(tmp_path / "kan.pt")
    for prefix in (None, "head"):
        loaded = sk.load_model(tmp_path / "net.pt", prefix=prefix, base_activation="silu")
        with torch.no_grad():
            assert relative_error(loaded(_features(net, digits[0][TRAIN:])), net(digits[0][TRAIN:])) < TOLERANCE
    with pytest.raises(SharekanError, match=r"holds a torchkan KAN at prefix 'head\.', which this command does not take"):
        sk.io.read_model(tmp_path / "net.pt", base_activation="silu")
    status = main(["compress", str(tmp_path / "kan.pt"), "-K", "8", "--out", str(tmp_path / "kan.skan")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1 and not (tmp_path / "kan.skan").exists()
    extra = {**net.head.state_dict(), "layer_norms.2.weight": torch.ones(10)}
    torch.save(extra, tmp_path / "extra.pt")
    with pytest.raises(SharekanError, match=r"1 tensor that the torchkan importer does not use: layer_norms\.2\.weight"):
        sk.load_model(tmp_path / "extra.pt", base_activation="silu")


@pytest.mark.parametrize("activation, options", [(nn.SiLU, {}), (nn.GELU, {}), (nn.GELU, {"spline_scalers": True})],
                         ids=["silu", "gelu (default)", "earlier version: spline_scalers, no PReLU"])
def test_the_dense_import_equals_the_reference_forward(digits, trained, activation, options):
    if activation is nn.SiLU:
        net = _trained_net(trained)
    else:  # a few steps: trained weights, knots and norms that differ from their initial values
        net = train(_net(activation, **options), digits[0][:200], digits[1][:200], steps=8)
    name = "gelu" if activation is nn.GELU else "silu"
    stack = dense_stack(net.head, "head", name)
    assert [layer.base_activation for layer in stack.layers] == [name, name]
    assert stack.layer_norms is net.head.layer_norms and (stack.prelus is None) == ("spline_scalers" in options)
    held_out = _features(net, digits[0][TRAIN:])
    with torch.no_grad():
        error = relative_error(stack(held_out), net.head(held_out))
    assert error < TOLERANCE, error


def test_torchkans_default_gelu_compresses_in_place(digits):
    """torchkan's default base activation is GELU: its layers compress with the activation recorded, and the
    compressed net computes the dense one's function (a codebook with a row per edge at FP32 is exact up to rounding,
    so any other activation would show)."""
    net = train(_net(nn.GELU), digits[0][:200], digits[1][:200], steps=8)
    held_out = digits[0][TRAIN:TRAIN + 200]
    with torch.no_grad():
        dense = net(held_out)
    compressed = sk.compress_(net, sk.CompressionConfig(codebook_size=1024, bits=32))  # >= the 888 edges
    assert {kan.base_activation for kan in compressed.values()} == {"gelu"}
    with torch.no_grad():
        error = relative_error(net(held_out), dense)
    assert error < 1e-4, error


def test_compress_in_place_keeps_norms_and_accuracy(digits, trained):
    pixels, labels = digits
    net = _trained_net(trained)
    norms, prelus, backbone = net.head.layer_norms, net.head.prelus, net.backbone
    with torch.no_grad():
        dense = net(pixels[TRAIN:])
    samples = sk.calibration_from(net, pixels[:TRAIN])
    assert {name: tuple(rows.shape) for name, rows in samples.items()} == {
        "head.layers.0": (TRAIN, 64), "head.layers.1": (TRAIN, 12)}
    compressed = sk.compress_(net, CONFIG, calibration=samples)
    assert list(compressed) == ["head.layers.0", "head.layers.1"] and isinstance(net.head, TorchKANStack)
    assert all(isinstance(layer, CompressedHead) for layer in net.head.layers)
    assert net.head.layer_norms is norms and net.head.prelus is prelus and net.backbone is backbone
    with torch.no_grad():
        coded = net(pixels[TRAIN:])
    dense_accuracy, accuracy = (float((out.argmax(1) == labels[TRAIN:]).float().mean()) for out in (dense, coded))
    print(f"torchkan held-out accuracy: dense {dense_accuracy:.3f}, K = 64 Int8 {accuracy:.3f}")
    assert dense_accuracy > 0.6 and accuracy > dense_accuracy - ACCURACY_DROP, (dense_accuracy, accuracy)

    state = sk.compressed_state_dict(net)
    assert "head.layers.1.compressed_header" in state and "head.prelus.1.weight" in state
    fresh = _net()
    broken = {key: value for key, value in state.items() if key != "head.prelus.1.weight"}
    with pytest.raises(SharekanError, match=r"does not fit DigitsNet: it lacks head\.prelus\.1\.weight"):
        sk.load_compressed_into(fresh, broken)
    assert isinstance(fresh.head, TorchKAN)  # checked before anything changed: left as it was
    assert list(sk.load_compressed_into(fresh, state)) == ["head.layers.0", "head.layers.1"]
    with torch.no_grad():
        assert torch.equal(fresh.eval()(pixels[TRAIN:]), coded)


def test_filter_and_refusals_leave_the_module_as_it_was(digits, trained):
    net = _trained_net(trained)
    head = net.head
    assert sk.compress_(net, CONFIG, filter_fn=lambda kan, name: False) == {} and net.head is head
    with pytest.raises(SharekanError, match="the module itself is a torchkan KAN"):
        sk.compress_(head, CONFIG)
    sloped = _net(lambda: nn.LeakyReLU(0.2))
    with pytest.raises(SharekanError, match=r"head: holds a module that is not a base activation .*: LeakyReLU\(negative_slope=0.2\)"):
        sk.compress_(sloped, CONFIG)
    other = _net()
    other.head.forward = lambda x: other.head.layer_norms[-1](torch.zeros(x.shape[0], 10))  # torchkan's names only
    with pytest.raises(SharekanError, match="head: TorchKAN has torchkan's tensors, but its forward is not torchkan's"):
        sk.compress_(other, CONFIG)


@pytest.mark.parametrize("key, value, message", [
    ("spline_weights.1", lambda t: torch.full_like(t, float("nan")), r"head: spline_weights\.1 contains NaN"),
    ("base_weights.0", lambda t: t[:, :5], r"head: base_weights\.0 has shape \(12, 5\), expected \(12, 64\)"),
    ("grid_1", lambda t: t.flip(-1), r"head: grid_1 knots of input 0 decrease"),
    ("spline_weights.0", lambda t: t.reshape(12, -1), r"head: spline_weights\.0 must be 3-D"),
], ids=["NaN", "mismatched shape", "decreasing knots", "flattened coefficients"])
def test_bad_tensors_give_one_clear_error(trained, key, value, message):
    net = _trained_net(trained)
    with torch.no_grad():
        if key.startswith("grid_"):  # a buffer
            setattr(net.head, key, value(getattr(net.head, key).clone()))
        else:
            listing, index = key.rsplit(".", 1)
            parameters = getattr(net.head, listing)
            parameters[int(index)] = nn.Parameter(value(parameters[int(index)].detach().clone()))
    with pytest.raises(SharekanError, match=message):
        sk.compress_(net, CONFIG)
    assert isinstance(net.head, TorchKAN)
