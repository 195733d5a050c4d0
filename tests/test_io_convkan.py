"""convkan 0.0.1.2's ConvKAN (efficient-kan on unfolded patches; groups > 1 refused) imported, run on unfolded patches and
compressed, held to the library's own forward on a small image model trained on scikit-learn's digits."""
from __future__ import annotations

import copy
import re

import pytest
import torch
from convkan_digits_net import GEOMETRIES, DigitsConvKAN
from efficient_kan_reference import train

import sharekan_core as sk
from digits_net import digits_tensors, relative_error
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model
from sharekan_core.io.model_file import kan_groups_in
from sharekan_core.model.conv_kan import ConvGeometry, ConvKAN2d

convkan = pytest.importorskip("convkan")
TOLERANCE = 1e-5  # relative: outputs must equal the library's own



@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """800 of scikit-learn's digits, pixels scaled to [-1, 1], and their labels: the first 400 train, the rest test."""
    return digits_tensors(800)


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    """The trained net, its state dict's path, and each ConvKAN's real inputs on the digits."""
    torch.manual_seed(0)
    net = train(DigitsConvKAN(), digits[0][:400], digits[1][:400], steps=30)
    path = tmp_path_factory.mktemp("convkan") / "net.pt"
    torch.save(net.state_dict(), path)
    with torch.no_grad():
        images = digits[0][:400].view(-1, 1, 8, 8)
        inputs = {"conv1": images, "conv2": torch.tanh(net.conv1(images))}
    return net, path, inputs


def _imported(path, name: str) -> ConvKAN2d:
    geometry, out_channels = GEOMETRIES[name]
    model = read_model(path, prefix=f"{name}.kan_layer.", base_activation="silu").model
    return ConvKAN2d(model, geometry, out_channels).eval()


def test_each_convkan_layer_equals_the_library(trained, digits):
    net, path, inputs = trained
    assert [(g["prefix"], g["family"]) for g in kan_groups_in(path)] == [("conv1.kan_layer.", "convkan"),
                                                                        ("conv2.kan_layer.", "convkan")]
    held_out = {"conv1": digits[0][400:].view(-1, 1, 8, 8)}
    held_out["conv2"] = torch.tanh(net.conv1(held_out["conv1"])).detach()
    for name in GEOMETRIES:
        with torch.no_grad():
            got, want = _imported(path, name)(held_out[name]), getattr(net, name)(held_out[name])
        assert got.shape == want.shape and relative_error(got, want) < TOLERANCE, name


def _accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((outputs.argmax(1) == labels).float().mean())


def test_compressed_convkan_keeps_accuracy(trained, digits):
    """Each ConvKAN's patch KAN compressed (K = 64, Int8, calibrated on its own patches) and run in the compressed
    domain on unfolded patches; the classifier's accuracy on 400 held-out digits holds."""
    net, path, inputs = trained
    net, pixels, labels = copy.deepcopy(net), digits[0][400:], digits[1][400:]
    with torch.no_grad():
        dense = net(pixels)
    for name in GEOMETRIES:
        layer = _imported(path, name)
        patches = layer.patches(inputs[name])
        compressed = sk.compress(layer.patch_kan, sk.CompressionConfig(codebook_size=64, bits=8), patches.numpy())
        setattr(net, name, ConvKAN2d(sk.CompressedDomainKAN(compressed), layer.geometry, layer.out_channels))
    with torch.no_grad():
        outputs = net(pixels)
    dense_accuracy, accuracy = _accuracy(dense, labels), _accuracy(outputs, labels)
    agreement = float((outputs.argmax(1) == dense.argmax(1)).float().mean())
    print(f"convkan digits accuracy {dense_accuracy:.3f} -> {accuracy:.3f}, agreement with the teacher {agreement:.3f}")
    assert accuracy >= dense_accuracy - 0.02 and agreement > 0.95, (dense_accuracy, accuracy, agreement)


def test_bad_convkan_files_are_refused_by_name(tmp_path, trained):
    net, _, _ = trained
    state = {key: value.clone() for key, value in net.conv2.state_dict().items()}
    nan = dict(state)
    nan["kan_layer.spline_weight"] = nan["kan_layer.spline_weight"].clone()
    nan["kan_layer.spline_weight"][0, 1, 0, 0] = float("nan")
    mismatched = dict(state, **{"kan_layer.base_weight": state["kan_layer.base_weight"][:, :2]})
    cases = {"NaN": (nan, r"kan_layer\.spline_weight contains NaN"),
             "mismatched": (mismatched, r"must agree in groups and widths"),
             "no activation": (state, r"convkan state dict does not record its base activation")}
    for name, (tensors, error) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(tensors, path)
        with pytest.raises(SharekanError, match=error):
            read_model(path, base_activation=None if name == "no activation" else "silu")


def test_grouped_convkan_is_refused_by_name(tmp_path, trained, digits):
    """A grouped ConvKAN (groups = 2) is refused by the file importer and by compress_, naming the groups, instead of
    being imported block diagonal with its 2 * 1 * 2 * 18 = 72 cross-group edges stored as compressed zeros."""
    torch.manual_seed(0)
    grouped = convkan.ConvKAN(4, 4, 3, stride=2, padding=1, groups=2, padding_mode="reflect", grid_size=5)
    torch.save(grouped.state_dict(), tmp_path / "grouped.pt")
    error = r"spline_weight is a grouped convkan ConvKAN \(groups = 2\).*72 cross-group edges"
    with pytest.raises(SharekanError, match=error):
        read_model(tmp_path / "grouped.pt", base_activation="silu")
    net = copy.deepcopy(trained[0])
    net.conv2 = grouped
    with pytest.raises(SharekanError, match=error):
        sk.compress_(net, sk.CompressionConfig(codebook_size=16, bits=8))
    assert net.conv1.kan_layer.__class__.__name__ == "KANLinear" and net.conv2 is grouped  # nothing swapped


def test_compress_in_place_swaps_each_convkan_layer(trained, digits):
    """sk.compress_ on the whole net: both ConvKANs' kan_layers swapped for compressed heads,
    calibrated by forward hooks; outputs equal the patch KANs compressed from the file and run by ConvKAN2d."""
    net, path, _ = trained
    net, pixels, labels = copy.deepcopy(net), digits[0][400:], digits[1][400:]
    with torch.no_grad():
        dense = net(pixels)
    samples = sk.calibration_from(net, digits[0][:400])
    assert {name: tuple(rows.shape) for name, rows in samples.items()} == {
        "conv1.kan_layer": (400 * 64, 9), "conv2.kan_layer": (400 * 16, 36)}
    config = sk.CompressionConfig(codebook_size=64, bits=8)
    heads = sk.compress_(net, config, calibration=samples)
    assert list(heads) == ["conv1.kan_layer", "conv2.kan_layer"]
    with torch.no_grad():
        outputs = net(pixels)
        images = pixels.view(-1, 1, 8, 8)
        for name, inputs in (("conv1", images), ("conv2", torch.tanh(net.conv1(images)))):
            layer = _imported(path, name)
            alone = ConvKAN2d(sk.CompressedDomainKAN(heads[f"{name}.kan_layer"]), layer.geometry, layer.out_channels)
            assert relative_error(getattr(net, name)(inputs), alone(inputs)) < TOLERANCE, name
    agreement = float((outputs.argmax(1) == dense.argmax(1)).float().mean())
    assert agreement > 0.95 and _accuracy(outputs, labels) >= _accuracy(dense, labels) - 0.02, agreement


def test_cli_predicts_images_and_refuses_bad_input_in_one_line(tmp_path, capsys, trained, digits):
    """predict takes (N, C, H, W) images for a convkan file with its --conv geometry, dense or compressed with it."""
    import numpy as np

    from sharekan_core.cli.main import main

    def run(*args):
        status = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    net, _, _ = trained
    layer = tmp_path / "conv2.pt"
    torch.save(net.conv2.state_dict(), layer)
    with torch.no_grad():
        images = torch.tanh(net.conv1(digits[0][400:].view(-1, 1, 8, 8)))
        want = net.conv2(images)
    np.save(tmp_path / "images.npy", images.numpy())
    conv = ["--base-activation", "silu", "--conv", "4,3,2,1,1,reflect"]
    status, _, stderr = run("predict", layer, *conv, "--input", tmp_path / "images.npy", "--out", tmp_path / "y.npy")
    assert status == 0, stderr
    assert relative_error(torch.from_numpy(np.load(tmp_path / "y.npy")), want) < TOLERANCE
    status, _, stderr = run("compress", layer, *conv, "-K", 64, "--out", tmp_path / "conv2.skan")
    assert status == 0, stderr
    status, _, stderr = run("predict", tmp_path / "conv2.skan", "--input", tmp_path / "images.npy", "--out", tmp_path / "c.npy")
    assert status == 0 and np.load(tmp_path / "c.npy").shape == tuple(want.shape), stderr
    np.save(tmp_path / "flat.npy", images.reshape(len(images), -1).numpy())
    bad_images = {"small": images[:, :, :1, :1], "no pixels": images[:, :, :0], "no images": images[:0]}
    bad_images["nan"] = images.clone()
    bad_images["nan"][3, 1, 2, 2] = float("nan")
    for name, array in bad_images.items():
        np.save(tmp_path / f"images {name}.npy", array.numpy())
    cases = {  # arguments, the error
        "no geometry": (["predict", layer, "--base-activation", "silu"], "does not record its kernel, stride or padding"),
        "wrong geometry": (["predict", layer, "--base-activation", "silu", "--conv", "1,3"], "takes 36"),
        "bad geometry": (["predict", layer, "--base-activation", "silu", "--conv", "4,x"], "must be integers"),
        "flat input": (["predict", layer, *conv, "--input", tmp_path / "flat.npy"], r"expected images of shape \(N, 4, H, W\)"),
        "stated twice": (["predict", tmp_path / "conv2.skan", "--conv", "4,3"], "records its own geometry"),
        "small": (["predict", layer, *conv, "--input", tmp_path / "images small.npy"],
                  r"small\.npy: images of 1 x 1 are too small for reflect padding of 1 x 1"),
        "small unpadded": (["predict", layer, "--base-activation", "silu", "--conv", "4,3", "--input",
                            tmp_path / "images small.npy"],
                           r"small\.npy: images of 1 x 1 are smaller than the convolution's 3 x 3 kernel"),
        "small compressed": (["predict", tmp_path / "conv2.skan", "--input", tmp_path / "images small.npy"],
                             r"small\.npy: images of 1 x 1 are too small for reflect padding"),
        "no pixels": (["predict", layer, *conv, "--input", tmp_path / "images no pixels.npy"],
                      r"no pixels\.npy: images of 0 x 8 hold no pixels"),
        "no images": (["predict", tmp_path / "conv2.skan", "--input", tmp_path / "images no images.npy"],
                      r"no images\.npy: the image array holds no images \(shape \(0, 4, 8, 8\)\)"),
        "nan": (["predict", tmp_path / "conv2.skan", "--input", tmp_path / "images nan.npy"], "input contains NaN"),
        "evaluate": (["evaluate", tmp_path / "conv2.skan", "--task", "digits"], "'predict' runs on \\(N, C, H, W\\)"),
        "export": (["export", tmp_path / "conv2.skan", "--pte"], "'predict' runs on \\(N, C, H, W\\)"),
    }
    for name, (arguments, error) in cases.items():
        out = tmp_path / f"{name}.npy"
        if arguments[0] == "predict":
            arguments = [*arguments, *([] if "--input" in arguments else ["--input", tmp_path / "images.npy"]), "--out", out]
        elif arguments[0] == "export":
            arguments = [*arguments, out]
        status, stdout, stderr = run(*arguments)
        lines = stderr.strip().splitlines()
        assert status == 2 and len(lines) == 1 and lines[0].startswith("error:"), (name, stderr)
        assert re.search(error, lines[0]), (name, lines[0])
        assert not out.exists() and stdout == ""


def test_images_a_convkan_model_cannot_run_on_are_refused_by_name(tmp_path, trained, digits):
    """The API's predict (load_runnable(...).module) on a convkan file, dense or compressed: images smaller than the
    kernel, without pixels, without images or with NaN raise one SharekanError each, never a torch error."""
    net, _, _ = trained
    torch.save(net.conv1.state_dict(), tmp_path / "conv1.pt")
    geometry = ConvGeometry(1, 3)  # conv1's kernel without its padding, so that a 2 x 2 image holds no patch
    dense = sk.load_runnable(tmp_path / "conv1.pt", base_activation="silu", conv=geometry)
    loaded = read_model(tmp_path / "conv1.pt", base_activation="silu")
    compressed = sk.compress(loaded.model, sk.CompressionConfig(codebook_size=16, bits=8))
    compressed.metadata["conv_geometry"] = geometry.as_dict()
    sk.save_compressed(compressed, tmp_path / "conv1.skan")
    coded = sk.load_runnable(tmp_path / "conv1.skan")
    pixels = digits[0][:5].view(-1, 1, 8, 8)
    nan = pixels.clone()
    nan[2, 0, 4, 4] = float("nan")
    cases = {"small": (torch.zeros(2, 1, 2, 2), "images of 2 x 2 are smaller than the convolution's 3 x 3 kernel"),
             "no pixels": (torch.zeros(2, 1, 8, 0), "images of 8 x 0 hold no pixels"),
             "no images": (pixels[:0], r"holds no images \(shape \(0, 1, 8, 8\)\)"),
             "nan": (nan, "the images contain NaN or Inf values"),
             "flat": (pixels.reshape(5, 64), r"expected images of shape \(N, 1, H, W\), got \(5, 64\)")}
    for runnable in (dense, coded):
        assert runnable.module(pixels).shape == (5, 4, 6, 6)
        for name, (images, error) in cases.items():
            with pytest.raises(SharekanError, match=error):
                runnable.module(images)


def test_decompress_writes_a_convkan_layer_convkan_loads_strictly(tmp_path, capsys, trained, digits):
    """compress the second ConvKAN, decompress --layout convkan: convkan's own ConvKAN loads it strictly and equals
    the decompressed model run by ConvKAN2d."""
    import json

    from sharekan_core.cli.main import main

    net, _, _ = trained
    layer = tmp_path / "conv2.pt"
    torch.save(net.conv2.state_dict(), layer)
    conv = ["--base-activation", "silu", "--conv", "4,3,2,1,1,reflect"]
    assert main(["compress", str(layer), *conv, "-K", "64", "--out", str(tmp_path / "conv2.skan")]) == 0
    capsys.readouterr()
    assert main(["decompress", str(tmp_path / "conv2.skan"), "--layout", "convkan", "--out", str(tmp_path / "back.pt")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["build_with"]["grid_size"] == 5 and report["build_with"]["spline_order"] == 3
    library = convkan.ConvKAN(4, 4, 3, stride=2, padding=1, padding_mode="reflect", grid_size=5)
    library.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True), strict=True)
    dense = sk.decompress(sk.load_compressed(tmp_path / "conv2.skan"))
    geometry, out_channels = GEOMETRIES["conv2"]
    with torch.no_grad():
        images = torch.tanh(net.conv1(digits[0][400:].view(-1, 1, 8, 8)))
        assert relative_error(library.eval()(images), ConvKAN2d(dense, geometry, out_channels)(images)) < TOLERANCE
    from sharekan_core.io.layouts import layout_state
    from sharekan_core.model import KAN
    with pytest.raises(SharekanError, match="a convkan ConvKAN holds one KAN layer; this model has 2"):
        layout_state(KAN(sk.KANConfig((36, 4, 2))), "convkan")
