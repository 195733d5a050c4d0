"""B-spline KAN families laid out differently from efficient-kan (flashkan, inkan, kanx, deep-kan), each held to the
library's own forward on a model trained on scikit-learn's digits: outputs equal within 1e-5 relative."""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types

import pytest
import torch
from efficient_kan_reference import train
from safetensors.torch import save_file
from torch import nn

from digits_net import digits_tensors, relative_error
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model

TOLERANCE = 1e-5  # relative: outputs must equal the library's own



@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """600 of scikit-learn's digits, pixels scaled to [-1, 1], and their labels."""
    return digits_tensors(600)


def _saved(folder, state: dict, name: str = "model.pt"):
    path = folder / name
    torch.save(state, path)
    return path


def _accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((outputs.argmax(1) == labels).float().mean())


# --- flashkan ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flashkan_net(digits):
    """flashkan 0.2.0's KANNetwork [64, 8, 10] trained on digits (its eager basis: torch.compile is not the point)."""
    flashkan = pytest.importorskip("flashkan")
    import flashkan.basis
    import flashkan.layer

    eager = pytest.MonkeyPatch()
    eager.setattr(flashkan.layer, "bspline_basis", flashkan.basis.bspline_basis_eager)
    torch.manual_seed(0)
    net = train(flashkan.KANNetwork([64, 8, 10], grid_size=5), *digits, steps=40)
    yield net
    eager.undo()


def test_flashkan_network(tmp_path, digits, flashkan_net):
    pixels, labels = digits
    path = _saved(tmp_path, flashkan_net.state_dict())
    with pytest.raises(SharekanError, match="a flashkan state dict does not record its base activation"):
        read_model(path)
    loaded = read_model(path, base_activation="silu")
    assert loaded.source_format == "flashkan" and loaded.model.config.spline_order == 3
    with torch.no_grad():
        # flashkan's truncated-power basis cancels to about 1e-4 in float32; in float64 it is the exact B-spline
        want = flashkan_net.double()(pixels.double())
        flashkan_net.float()
        assert relative_error(loaded.model(pixels), want) < TOLERANCE
        assert _accuracy(loaded.model(pixels), labels) == _accuracy(want, labels) > 0.8


def test_flashkan_non_cubic_order_is_still_a_cubic_spline(tmp_path, digits):
    flashkan = pytest.importorskip("flashkan")
    import flashkan.basis

    layer = flashkan.KANLayer(64, 10, grid_size=6, spline_order=1)  # 7 cubic bases, whatever spline_order says
    layer.spline_weight.data.normal_(0, 0.3)
    path = _saved(tmp_path, layer.state_dict())
    loaded = read_model(path, base_activation="silu")
    with torch.no_grad():
        bases = flashkan.basis.bspline_basis_eager(digits[0].double(), layer.grid_starts.double(), layer.inv_h)
        want = torch.einsum("bin,oin->bo", bases, layer.spline_weight.double()) + \
            nn.functional.silu(digits[0].double()) @ layer.base_weight.double().t()
        assert relative_error(loaded.model(digits[0]), want) < TOLERANCE


def test_flashkan_bad_files(tmp_path, flashkan_net):
    state = {key: value.clone() for key, value in flashkan_net.state_dict().items()}
    state["layers.1.grid_starts"][3] += 0.1
    with pytest.raises(SharekanError, match=r"layers\.1\.grid_starts is not evenly increasing"):
        read_model(_saved(tmp_path, state), base_activation="silu")
    state = {key: value.clone() for key, value in flashkan_net.state_dict().items()}
    state["layers.0.spline_weight"][0, 0, 0] = float("nan")
    with pytest.raises(SharekanError, match=r"layers\.0\.spline_weight contains NaN"):
        read_model(_saved(tmp_path, state), base_activation="silu")
    state = {key: value.clone() for key, value in flashkan_net.state_dict().items()}
    state["layers.0.grid_starts"] = state["layers.0.grid_starts"][:-1].clone()
    with pytest.raises(SharekanError, match=r"layers\.0\.spline_weight has 8 coefficients per edge but "
                                            r"layers\.0\.grid_starts has 7 basis starts"):
        read_model(_saved(tmp_path, state), base_activation="silu")


# --- inkan -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def inkan_net(digits):
    """inkan 0.5.2's KANNetwork [64, 8, 10] trained on digits, eager basis (compile_basis=False)."""
    inkan = pytest.importorskip("inkan")
    torch.manual_seed(0)
    return train(inkan.KANNetwork([64, 8, 10], grid_size=5, compile_basis=False), *digits, steps=40)


@pytest.mark.parametrize("evaluation", [{}, {"basis_mode": "dense"}, {"contraction": "direct"}])
def test_inkan_network(tmp_path, digits, inkan_net, evaluation):
    inkan = pytest.importorskip("inkan")
    pixels, labels = digits
    net = inkan.KANNetwork([64, 8, 10], grid_size=5, compile_basis=False, **evaluation)
    net.load_state_dict(inkan_net.state_dict())
    loaded = read_model(_saved(tmp_path, net.state_dict()), base_activation="silu")
    assert loaded.source_format == "inkan"
    with torch.no_grad():
        want = net(pixels)
        assert relative_error(loaded.model(pixels), want) < TOLERANCE
        shifted = pixels * 1.3  # past the grid's ends too
        assert relative_error(loaded.model(shifted), net(shifted)) < TOLERANCE
        assert _accuracy(loaded.model(pixels), labels) == _accuracy(want, labels) > 0.8


def test_inkan_bad_files(tmp_path, inkan_net):
    inkan = pytest.importorskip("inkan")
    surface = inkan.KANNetwork([2, 3], grid_size=5, dim=2, compile_basis=False)
    with pytest.raises(SharekanError, match=r"layers\.0\.weight is an inkan dim=2 layer .* cannot be imported"):
        read_model(_saved(tmp_path, surface.state_dict()), base_activation="silu")
    state = {key: value.clone() for key, value in inkan_net.state_dict().items()}
    state["layers.0.weight"] = state["layers.0.weight"][:, :-1].clone()
    with pytest.raises(SharekanError, match=r"layers\.0\.weight has 575 columns, not in \* \(8 coefficients \+ 1"):
        read_model(_saved(tmp_path, state), base_activation="silu")
    state = {key: value.clone() for key, value in inkan_net.state_dict().items()}
    state["layers.1.weight"] = state["layers.1.weight"][:, :-9].clone()  # 7 inputs where layer 0 gives 8
    with pytest.raises(SharekanError, match="layer 1 takes 7 inputs but layer 0 gives 8"):
        read_model(_saved(tmp_path, state), base_activation="silu")


# --- kanx ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kanx_layers():
    """kanx 0.2.1's torch layers module. Its package __init__ imports the TensorFlow backend, which the tests do
    not install, so kanx.torch.layers (and the kanx.prune it uses) are imported without the package __init__s."""
    spec = importlib.util.find_spec("kanx")
    if spec is None:
        pytest.skip("kanx is not installed")
    saved = {name: sys.modules.get(name) for name in ("kanx", "kanx.torch", "kanx.prune", "kanx.torch.layers")}
    root = spec.submodule_search_locations[0]
    for name, folder in (("kanx", root), ("kanx.torch", f"{root}/torch")):
        package = types.ModuleType(name)
        package.__path__ = [folder]
        sys.modules[name] = package
    try:
        yield importlib.import_module("kanx.torch.layers")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@pytest.fixture(scope="module")
def kanx_net(digits, kanx_layers):
    """kanx's torch KAN [64, 8, 10] (an nn.Sequential of KANLinear, as kanx.torch.KAN is) trained on digits,
    then its grids adapted to the data with update_grid_from_samples."""
    torch.manual_seed(0)
    net = nn.Sequential(kanx_layers.KANLinear(64, 8, grid_size=5), kanx_layers.KANLinear(8, 10, grid_size=5))
    train(net, *digits, steps=40)
    with torch.no_grad():
        net[0].update_grid_from_samples(digits[0])
        net[1].update_grid_from_samples(net[0](digits[0]))
    return net


def test_kanx_network(tmp_path, digits, kanx_net):
    pixels, labels = digits
    assert not torch.allclose(kanx_net[1].grid[0], kanx_net[1].grid[1])  # per-input grids from the data
    path = _saved(tmp_path, {"state_dict": kanx_net.state_dict(), "layers_spec": [64, 8, 10]})  # as KAN.save
    with pytest.raises(SharekanError, match="a kanx state dict does not record its base activation"):
        read_model(path)
    loaded = read_model(path, base_activation="silu")
    assert (loaded.source_format, loaded.prefix) == ("kanx", "state_dict.")
    with torch.no_grad():
        want = kanx_net(pixels)
        assert relative_error(loaded.model(pixels), want) < TOLERANCE
        assert _accuracy(loaded.model(pixels), labels) == _accuracy(want, labels) > 0.8


@pytest.mark.parametrize("activation", ["gelu", "identity"])
def test_kanx_base_activations_and_orders(tmp_path, digits, kanx_layers, activation):
    torch.manual_seed(1)
    layer = kanx_layers.KANLinear(64, 10, grid_size=4, spline_order=2, base_activation=activation)
    layer.spline_weight.data.normal_(0, 0.3)
    save_file(layer.state_dict(), str(tmp_path / "layer.safetensors"))
    loaded = read_model(tmp_path / "layer.safetensors", base_activation=activation)
    assert loaded.model.config.spline_order == 2
    with torch.no_grad():
        assert relative_error(loaded.model(digits[0]), layer(digits[0])) < TOLERANCE


def test_kanx_bad_files(tmp_path, kanx_net):
    state = {key: value.clone() for key, value in kanx_net.state_dict().items()}
    state["0.base_weight"] = state["0.base_weight"].t().clone()
    with pytest.raises(SharekanError, match=r"0\.base_weight has shape \(8, 64\), expected \(64, 8\)"):
        read_model(_saved(tmp_path, state), base_activation="silu")
    state = {key: value.clone() for key, value in kanx_net.state_dict().items()}
    state["1.grid"][2, 3] = state["1.grid"][2, 1]
    with pytest.raises(SharekanError, match=r"knots of input 2 decrease"):
        read_model(_saved(tmp_path, state), base_activation="silu")


# --- deep-kan --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deepkan():
    """deep-kan 0.0.4's module. It imports torchvision for its MNIST example only; the tests do not install
    torchvision (it would pull another torch), so empty stand-ins are in sys.modules while it is imported."""
    if importlib.util.find_spec("deepkan") is None:
        pytest.skip("deep-kan is not installed")
    stand_ins = pytest.MonkeyPatch()
    vision, transforms = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
    vision.transforms = transforms
    stand_ins.setitem(sys.modules, "torchvision", vision)
    stand_ins.setitem(sys.modules, "torchvision.transforms", transforms)
    try:
        yield importlib.import_module("deepkan")
    finally:
        stand_ins.undo()


@pytest.fixture(scope="module")
def deep_kan_net(digits, deepkan):
    """deep-kan's DeepKAN 64 -> [8, 10] with 4 knots, order 2 on (-1.5, 1.5), trained on digits."""
    torch.manual_seed(0)
    return train(deepkan.DeepKAN(64, [8, 10], num_knots=4, spline_order=2, grid_range=[-1.5, 1.5]), *digits, steps=40)


def test_deep_kan_network(tmp_path, digits, deepkan, deep_kan_net):
    pixels, labels = digits
    path = _saved(tmp_path, deep_kan_net.state_dict())
    with pytest.raises(SharekanError, match=r"a deep-kan file does not save its knots; state the grid .* 5,3,-1,1"):
        read_model(path, base_activation="silu")
    with pytest.raises(SharekanError, match=r"layers\.0\.spline_weights has 6 coefficients per edge, but the stated "
                                            r"grid 5,3,-1,1 gives G \+ k = 8"):
        read_model(path, base_activation="silu", grid="5,3,-1,1")
    with pytest.raises(SharekanError, match="must be G,k or G,k,LOW,HIGH"):
        read_model(path, base_activation="silu", grid="4")
    reloaded = deepkan.DeepKAN(64, [8, 10], num_knots=4, spline_order=2, grid_range=[-1.5, 1.5])
    reloaded.load_state_dict(torch.load(path, weights_only=True))  # what deep-kan itself rebuilds from the file
    loaded = read_model(path, base_activation="silu", grid="4,2,-1.5,1.5")
    assert loaded.source_format == "deep-kan"
    with torch.no_grad():
        want = reloaded(pixels)
        assert relative_error(loaded.model(pixels), want) < TOLERANCE
        assert relative_error(want, deep_kan_net(pixels)) < TOLERANCE
        assert _accuracy(loaded.model(pixels), labels) == _accuracy(want, labels) > 0.8
        wrong = read_model(path, base_activation="silu", grid="3,3,-1.5,1.5").model  # a wrong statement shows
        assert relative_error(wrong(pixels), want) > 1e-2


def test_a_grid_stated_for_a_file_that_records_knots_is_refused(tmp_path, kanx_net):
    with pytest.raises(SharekanError, match="the file records its knots; drop --grid"):
        read_model(_saved(tmp_path, kanx_net.state_dict()), base_activation="silu", grid="5,3")


def test_cli_reads_each_family_and_refuses_bad_input_in_one_line(tmp_path, capsys, deep_kan_net, inkan_net):
    from sharekan_core.cli.main import main

    def run(*args):
        status = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    deep = _saved(tmp_path, deep_kan_net.state_dict(), "deep.pt")
    status, stdout, _ = run("inspect", deep, "--base-activation", "silu", "--grid", "4,2,-1.5,1.5")
    assert status == 0 and '"format": "deep-kan"' in stdout
    nan = {key: value.clone() for key, value in inkan_net.state_dict().items()}
    nan["layers.1.weight"][0, 0] = float("nan")
    cases = {  # file, options, the error
        "missing grid": (deep, ["--base-activation", "silu"], "does not save its knots"),
        "bad grid": (deep, ["--base-activation", "silu", "--grid", "4,x"], "must be G,k or G,k,LOW,HIGH"),
        "wrong prefix": (deep, ["--base-activation", "silu", "--grid", "4,2", "--prefix", "head."],
                         r"no KAN at prefix 'head\.'; KANs found: '\(top level\)' \(deep-kan, 2 layers\)"),
        "NaN coefficients": (_saved(tmp_path, nan, "nan.pt"), ["--base-activation", "silu"],
                             r"layers\.1\.weight contains NaN"),
    }
    for name, (path, options, error) in cases.items():
        out = tmp_path / f"{name}.skan"
        status, stdout, stderr = run("compress", path, *options, "-K", 8, "--out", out)
        lines = stderr.strip().splitlines()
        assert status == 2 and len(lines) == 1 and lines[0].startswith("error:"), (name, stderr)
        assert re.search(error, lines[0]), (name, lines[0])
        assert not out.exists() and stdout == ""


# --- writing each library's layout back (decompress --layout) -----------------------------------------------------

def _library_class(layout: str, constructor: dict, deepkan, kanx_layers) -> nn.Module:
    """The library's own class for ``layout``, built as ``decompress`` reports (widths, G, k, range, activation)."""
    widths, grid, order = constructor["widths"], constructor["grid_size"], constructor["spline_order"]
    assert constructor["base_activation"] == "silu" and constructor["grid_range"] == pytest.approx([-1.0, 1.0])
    if layout == "efficient-kan":
        from efficient_kan_reference import ReferenceKAN
        return ReferenceKAN(widths, grid_size=grid, spline_order=order)
    if layout == "pykan":
        kan = pytest.importorskip("kan")
        return kan.KAN(width=widths, grid=grid, k=order, auto_save=False, seed=0)
    if layout == "flashkan":
        return pytest.importorskip("flashkan").KANNetwork(widths, grid_size=grid)
    if layout == "inkan":
        return pytest.importorskip("inkan").KANNetwork(widths, grid_size=grid, compile_basis=False)
    if layout == "kanx":
        return nn.Sequential(*(kanx_layers.KANLinear(i, o, grid_size=grid, spline_order=order)
                               for i, o in zip(widths[:-1], widths[1:])))
    return deepkan.DeepKAN(widths[0], widths[1:], num_knots=grid, spline_order=order)


def test_layout_choices_are_the_writers():
    from sharekan_core.cli.model_commands import LAYOUT_CHOICES
    from sharekan_core.io.layouts import LAYOUTS
    assert LAYOUT_CHOICES == ("sharekan", *LAYOUTS, "native")  # native: a FastKAN, ChebyKAN or Gram net's own


@pytest.fixture(scope="module")
def compressed_inkan(tmp_path_factory, inkan_net):
    """inkan_net compressed at K = 16, Int8, by the command line, and its dense reconstruction."""
    from sharekan_core.cli.main import main
    from sharekan_core.compression import decompress
    from sharekan_core.format.compressed_file import load_compressed

    folder = tmp_path_factory.mktemp("layouts")
    source = _saved(folder, inkan_net.state_dict(), "inkan.pt")
    assert main(["compress", str(source), "--base-activation", "silu", "-K", "16", "--out", str(folder / "m.skan")]) == 0
    return folder / "m.skan", decompress(load_compressed(folder / "m.skan")).eval()


@pytest.mark.parametrize("layout", ["efficient-kan", "pykan", "flashkan", "inkan", "kanx", "deep-kan"])
def test_decompress_writes_a_layout_the_library_loads_strictly(tmp_path, capsys, digits, compressed_inkan, layout,
                                                               deepkan, kanx_layers, monkeypatch):
    import json

    from sharekan_core.cli.main import main
    if layout == "flashkan":
        import flashkan.basis
        import flashkan.layer
        monkeypatch.setattr(flashkan.layer, "bspline_basis", flashkan.basis.bspline_basis_eager)
    skan, dense = compressed_inkan
    capsys.readouterr()
    assert main(["decompress", str(skan), "--layout", layout, "--out", str(tmp_path / "back.pt")]) == 0
    report = json.loads(capsys.readouterr().out)
    library = _library_class(layout, report["build_with"], deepkan, kanx_layers)
    library.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True), strict=True)
    with torch.no_grad():
        pixels = digits[0]
        want = dense(pixels)
        got = library.double()(pixels.double()) if layout == "flashkan" else library(pixels)
        assert relative_error(got, want) < TOLERANCE


def test_layouts_refuse_what_they_cannot_hold(tmp_path, digits, kanx_net, compressed_inkan):
    from sharekan_core.io.layouts import save_layout

    adapted = read_model(_saved(tmp_path, kanx_net.state_dict()), base_activation="silu").model
    for layout in ("flashkan", "inkan", "deep-kan"):
        with pytest.raises(SharekanError, match=f"not one evenly spaced grid shared by every input .* {layout} rebuilds"):
            save_layout(adapted, layout, tmp_path / "x.pt")
    save_layout(adapted, "kanx", tmp_path / "kanx.pt")  # kanx's own adapted grids go back as they came
    _, dense = compressed_inkan
    biased = type(dense)(dense.config)
    biased.load_state_dict(dense.state_dict())
    with torch.no_grad():
        biased.layers[1].output_bias[2] = 0.5
    with pytest.raises(SharekanError, match="layer 1 has a per-output bias .* efficient-kan layers do not hold"):
        save_layout(biased, "efficient-kan", tmp_path / "y.pt")
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()
