"""Every importer path held to the original library's forward on a real trained model (scikit-learn data):
efficient-kan with each base activation, pykan after its default fit(), KAN heads inside bigger models and the
usual checkpoint containers; and files whose forward cannot be reproduced are refused by name."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from efficient_kan_reference import ReferenceKAN, ReferenceKANLinear, train
from safetensors.torch import save_file
from sklearn.datasets import load_breast_cancer
from torch import nn

import sharekan_core as sk
from digits_net import digits_tensors, relative_error
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model, save_model
from sharekan_core.model.kan import BASE_ACTIVATIONS
from sharekan_core.ranges import BASE_ACTIVATION_NAMES

TOLERANCE = 1e-5  # relative: outputs must equal the library's own

# The torch module efficient-kan is given as base_activation= for each name the importer accepts.
TORCH_ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
                     "identity": nn.Identity, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
                     "selu": nn.SELU, "celu": nn.CELU, "softplus": nn.Softplus, "mish": nn.Mish,
                     "hardswish": nn.Hardswish, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}



@pytest.fixture(scope="module")
def cancer() -> tuple[torch.Tensor, torch.Tensor]:
    """breast_cancer's 30 features standardised and squashed into efficient-kan's grid, and its labels."""
    features, labels = load_breast_cancer(return_X_y=True)
    features = np.tanh((features - features.mean(0)) / features.std(0) / 2)
    return torch.tensor(features, dtype=torch.float32), torch.tensor(labels)


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """600 of scikit-learn's digits, pixels scaled to [-1, 1], and their labels."""
    return digits_tensors(600)


_TRAINED: dict[tuple, dict] = {}


def trained_efficient_kan(cancer, activation: str = "silu", seed: int = 0, **options) -> ReferenceKAN:
    """A fresh copy of an efficient-kan reference trained on breast_cancer (each setting trained once per run)."""
    key = (activation, seed, tuple(sorted(options.items())))
    model = ReferenceKAN([30, 6, 2], base_activation=TORCH_ACTIVATIONS[activation], **options)
    if key not in _TRAINED:
        torch.manual_seed(seed)
        _TRAINED[key] = {k: v.clone() for k, v in train(model, *cancer, steps=30).state_dict().items()}
    model.load_state_dict(_TRAINED[key])
    return model.eval()


def test_every_accepted_activation_is_implemented():
    assert tuple(BASE_ACTIVATIONS) == BASE_ACTIVATION_NAMES == tuple(TORCH_ACTIVATIONS)


@pytest.mark.parametrize("activation", BASE_ACTIVATION_NAMES)
def test_efficient_kan_with_each_base_activation(tmp_path, cancer, activation):
    reference = trained_efficient_kan(cancer, activation)
    torch.save(reference.state_dict(), tmp_path / "ek.pt")
    with pytest.raises(SharekanError, match="does not record its base activation"):
        read_model(tmp_path / "ek.pt")
    loaded = read_model(tmp_path / "ek.pt", base_activation=activation)
    with torch.no_grad():
        want = reference(cancer[0])
        assert relative_error(loaded.model(cancer[0]), want) < TOLERANCE
        if activation != "silu":  # what assuming SiLU would have imported: the test can tell
            assert relative_error(read_model(tmp_path / "ek.pt", base_activation="silu").model(cancer[0]), want) > 1e-3
    save_model(loaded.model, tmp_path / "own.safetensors")  # the project's file records it
    again = read_model(tmp_path / "own.safetensors")
    assert again.model.config.base_activation == activation
    with torch.no_grad():
        assert relative_error(again.model(cancer[0]), want) < TOLERANCE


def test_a_recorded_activation_and_a_different_stated_one_are_refused(tmp_path, cancer):
    loaded = read_model(_saved(tmp_path, trained_efficient_kan(cancer, "gelu").state_dict()), base_activation="gelu")
    save_model(loaded.model, tmp_path / "own.safetensors")
    with pytest.raises(SharekanError, match="records base activation 'gelu', but 'silu' was stated"):
        sk.load_model(tmp_path / "own.safetensors", base_activation="silu")
    with pytest.raises(SharekanError, match="unknown base activation 'swish'"):
        sk.load_model(tmp_path / "own.safetensors", base_activation="swish")


def test_a_non_silu_model_compresses_with_its_activation_recorded(tmp_path, cancer):
    """A GELU efficient-kan model (refused for compression until the runtimes computed other activations) compresses
    with every method, the activation travels with the result, and 8-bit uniform stays close to dense."""
    model = sk.load_model(_saved(tmp_path, trained_efficient_kan(cancer, "gelu").state_dict()), base_activation="gelu")
    coded = sk.compress(model, sk.CompressionConfig(codebook_size=8))
    uniform = sk.compress(model, sk.UniformConfig(bits=8))
    assert coded.base_activation == uniform.base_activation == "gelu"
    restored = sk.decompress(uniform)
    assert restored.config.base_activation == "gelu"
    with torch.no_grad():
        assert relative_error(restored(cancer[0]), model(cancer[0])) < 0.02


def test_efficient_kan_without_standalone_scaler_and_with_adapted_grids(tmp_path, cancer):
    reference = trained_efficient_kan(cancer, standalone_scaler=False)
    with torch.no_grad():  # per-input grids from the data, as efficient-kan's update_grid leaves them
        inputs = cancer[0]
        for layer in reference.layers:
            ordered = inputs.sort(dim=0).values
            picks = ordered[torch.linspace(0, len(ordered) - 1, layer.grid.shape[1] - 6).long()].t()
            step = (picks[:, -1:] - picks[:, :1] + 0.02) / (picks.shape[1] - 1)
            layer.grid.copy_(torch.cat([picks[:, :1] - step * torch.arange(3, 0, -1), picks,
                                        picks[:, -1:] + step * torch.arange(1, 4)], dim=1))
            inputs = layer(inputs)
    loaded = sk.load_model(_saved(tmp_path, reference.state_dict()), base_activation="silu")
    with torch.no_grad():
        assert relative_error(loaded(cancer[0]), reference(cancer[0])) < TOLERANCE


class NormedKAN(nn.Module):
    """efficient-kan layers with a LayerNorm after each hidden layer (torchkan style)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([ReferenceKANLinear(30, 6), ReferenceKANLinear(6, 2)])
        self.norms = nn.ModuleList([nn.LayerNorm(6)])


def test_tensors_the_importer_does_not_use_are_refused_by_name(tmp_path):
    with pytest.raises(SharekanError, match=r"2 tensors that the efficient-kan importer does not use: norms\.0\.weight, "
                                            r"norms\.0\.bias; .* refused"):
        read_model(_saved(tmp_path, NormedKAN().state_dict()), base_activation="silu")
    # torch-conv-kan's B-spline KANLayer: efficient-kan's names plus a LayerNorm and a PReLU inside each layer
    state = {key: value for key, value in ReferenceKAN([30, 6, 2], standalone_scaler=False).state_dict().items()}
    for index, width in enumerate((6, 2)):
        state[f"layers.{index}.layer_norm.weight"] = torch.ones(width)
        state[f"layers.{index}.layer_norm.bias"] = torch.zeros(width)
        state[f"layers.{index}.prelu.weight"] = torch.full((1,), 0.25)
    with pytest.raises(SharekanError, match=r"6 tensors .*: layers\.0\.layer_norm\.weight, layers\.0\.layer_norm\.bias, "
                                            r"layers\.0\.prelu\.weight"):
        read_model(_saved(tmp_path, state), base_activation="silu")
    extra = {**ReferenceKAN([30, 6, 2]).state_dict(), "temperature": torch.ones(1)}
    with pytest.raises(SharekanError, match="1 tensor that the efficient-kan importer does not use: temperature"):
        read_model(_saved(tmp_path, extra), base_activation="silu")


class DigitsNet(nn.Module):
    """A small CNN backbone with an efficient-kan head, as the paper's setting has it."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Tanh())
        self.head = ReferenceKAN([64, 8, 10])

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(pixels.view(-1, 1, 8, 8)))


@pytest.fixture(scope="module")
def digits_net(digits) -> DigitsNet:
    torch.manual_seed(0)
    return train(DigitsNet(), *digits, steps=40)


def test_a_kan_head_inside_a_bigger_model(tmp_path, digits, digits_net):
    pixels, labels = digits
    path = _saved(tmp_path, digits_net.state_dict())
    with torch.no_grad():
        features = digits_net.backbone(pixels.view(-1, 1, 8, 8))
        want = digits_net.head(features)
        for prefix in (None, "head.", "head"):  # found on its own, or named with or without the dot
            loaded = read_model(path, prefix=prefix, base_activation="silu")
            assert (loaded.prefix, loaded.tensors_outside_prefix) == ("head.", 2)
            assert relative_error(loaded.model(features), want) < TOLERANCE
        accuracy = float((loaded.model(features).argmax(1) == labels).float().mean())
    assert accuracy == float((digits_net(pixels).argmax(1) == labels).float().mean()) > 0.5
    with pytest.raises(SharekanError, match=r"no KAN at prefix 'heads\.'; KANs found: 'head\.' \(efficient-kan, 2 layers\)"):
        read_model(path, prefix="heads.", base_activation="silu")
    backbone_only = {k: v for k, v in digits_net.state_dict().items() if k.startswith("backbone.")}
    with pytest.raises(SharekanError, match=r"no KAN in this file .*; prefixes seen: backbone\."):
        read_model(_saved(tmp_path, backbone_only))


def test_two_kans_in_one_file_need_a_prefix(tmp_path, cancer):
    first, second = trained_efficient_kan(cancer, seed=0), trained_efficient_kan(cancer, seed=1)
    path = _saved(tmp_path, {"model": first.state_dict(), "ema": second.state_dict()})
    with pytest.raises(SharekanError, match=r"holds 2 KANs, at 'model\.' .*, 'ema\.' .*; pass --prefix"):
        read_model(path, base_activation="silu")
    with torch.no_grad():
        model = sk.load_model(path, prefix="ema", base_activation="silu")
        assert relative_error(model(cancer[0]), second(cancer[0])) < TOLERANCE


@pytest.mark.parametrize("container", ["net", "model_state_dict", "module", "sequential", "single_layer"])
def test_checkpoint_containers(tmp_path, cancer, container):
    reference = trained_efficient_kan(cancer)
    state = reference.state_dict()
    if container == "net":
        saved = {"net": state}
    elif container == "model_state_dict":  # a training checkpoint: the optimiser's tensors lie outside the prefix
        optimiser = torch.optim.Adam(reference.parameters())
        reference(cancer[0]).sum().backward()
        optimiser.step()
        saved = {"epoch": 3, "model_state_dict": reference.state_dict(), "optimizer_state_dict": optimiser.state_dict()}
    elif container == "module":  # nn.DataParallel
        saved = {f"module.{key}": value for key, value in state.items()}
    elif container == "sequential":  # nn.Sequential(KANLinear, KANLinear)
        saved = {key.removeprefix("layers."): value for key, value in state.items()}
    else:  # one KANLinear saved alone
        reference = reference.layers[0]
        saved = reference.state_dict()
    with torch.no_grad():
        model = sk.load_model(_saved(tmp_path, saved), base_activation="silu")
        assert relative_error(model(cancer[0]), reference(cancer[0])) < TOLERANCE


def test_sequential_with_a_module_between_kan_layers_is_refused(tmp_path):
    normed = nn.Sequential(ReferenceKANLinear(30, 6), nn.LayerNorm(6), ReferenceKANLinear(6, 2))
    with pytest.raises(SharekanError, match=r"tensors that the efficient-kan importer does not use: 1\.weight, 1\.bias"):
        read_model(_saved(tmp_path, normed.state_dict()), base_activation="silu")
    activated = nn.Sequential(ReferenceKANLinear(30, 6), nn.ReLU(), ReferenceKANLinear(6, 2))
    with pytest.raises(SharekanError, match="KAN layers 0, 2 hold tensors but 1 do not; a module without tensors"):
        read_model(_saved(tmp_path, activated.state_dict()), base_activation="silu")


def test_different_grid_sizes_per_layer_get_a_clear_error(tmp_path):
    model = nn.Module()
    model.layers = nn.ModuleList([ReferenceKANLinear(30, 6, grid_size=5), ReferenceKANLinear(6, 2, grid_size=8)])
    with pytest.raises(SharekanError, match="layer 1 has grid size G=8 .* layer 0 has G=5, k=3; a KAN with a different "
                                            "grid per layer is not supported"):
        read_model(_saved(tmp_path, model.state_dict()), base_activation="silu")


def _saved(folder, state: dict, name: str = "model.pt"):
    path = folder / name
    torch.save(state, path)
    return path


# --- pykan -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pykan_digits(tmp_path_factory, digits):
    """pykan 0.2.8 trained on digits with its default fit() (LBFGS, adaptive grids), saved with saveckpt."""
    kan = pytest.importorskip("kan")
    folder = tmp_path_factory.mktemp("pykan_fit")
    pixels, labels = digits
    cwd = os.getcwd()
    os.chdir(folder)  # pykan may write beside the working directory
    try:
        torch.manual_seed(0)
        model = kan.KAN(width=[64, 5, 10], grid=3, k=3, seed=0, auto_save=False)
        model.fit({"train_input": pixels[:400], "train_label": labels[:400], "test_input": pixels[400:],
                   "test_label": labels[400:]}, steps=4, loss_fn=nn.CrossEntropyLoss())
        model.saveckpt(str(folder / "fit"))
    finally:
        os.chdir(cwd)
    return model, folder


def test_pykan_default_fit_with_constant_inputs_imports_as_pykan_evaluates_it(pykan_digits, digits):
    model, folder = pykan_digits
    grid = model.act_fun[0].grid
    constant = int((grid == grid[:, :1]).all(dim=1).sum())
    assert constant > 0  # constant pixels: the case this test is about
    loaded = read_model(folder / "fit")
    with torch.no_grad():
        want = model(digits[0])
        assert relative_error(loaded.model(digits[0]), want) < TOLERANCE
        shifted = digits[0] + 0.05 * torch.randn_like(digits[0])  # off the training values too
        assert relative_error(loaded.model(shifted), model(shifted)) < TOLERANCE


def test_pykan_grids_degenerate_other_than_all_equal_are_refused(pykan_digits, tmp_path):
    _, folder = pykan_digits
    state = torch.load(folder / "fit_state", weights_only=True)
    grid = state["act_fun.0.grid"].clone()
    row = int((grid[:, 1:] > grid[:, :-1]).all(dim=1).nonzero()[0])
    state["act_fun.0.grid"] = grid.clone()
    state["act_fun.0.grid"][row, 5] = state["act_fun.0.grid"][row, 4]
    torch.save(state, tmp_path / "rep_state")
    with pytest.raises(SharekanError, match=f"layers.0.grid knots of input {row} repeat at knot 5"):
        read_model(tmp_path / "rep_state", base_activation="silu")
    state["act_fun.0.grid"] = grid.clone()
    state["act_fun.0.grid"][row, 5] = state["act_fun.0.grid"][row, 3]
    torch.save(state, tmp_path / "dec_state")
    with pytest.raises(SharekanError, match=f"knots of input {row} decrease at knot 5 .* strictly increasing"):
        read_model(tmp_path / "dec_state", base_activation="silu")


def test_an_all_equal_knot_row_outside_pykan_is_refused(tmp_path, cancer):
    state = trained_efficient_kan(cancer).state_dict()
    state["layers.0.grid"][2] = 0.5
    with pytest.raises(SharekanError, match="knots of input 2 are all equal .* not a pykan file"):
        read_model(_saved(tmp_path, state), base_activation="silu")


@pytest.mark.parametrize("base_fun", ["silu", "identity", "zero"])
def test_pykan_base_functions(tmp_path, cancer, base_fun):
    kan = pytest.importorskip("kan")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        torch.manual_seed(0)
        model = kan.KAN(width=[30, 4, 2], grid=4, k=3, seed=0, base_fun=base_fun, auto_save=False)
        model.fit({"train_input": cancer[0], "train_label": cancer[1], "test_input": cancer[0],
                   "test_label": cancer[1]}, opt="Adam", lr=0.02, steps=10, update_grid=False,
                  loss_fn=nn.CrossEntropyLoss())
        model.saveckpt(str(tmp_path / "pk"))
    finally:
        os.chdir(cwd)
    with torch.no_grad():
        want = model(cancer[0])
        assert relative_error(read_model(tmp_path / "pk").model(cancer[0]), want) < TOLERANCE
        (tmp_path / "pk_config.yml").unlink()  # a bare state dict does not record base_fun
        with pytest.raises(SharekanError, match="pykan state dict without its _config.yml does not record its base"):
            read_model(tmp_path / "pk_state")
        stated = read_model(tmp_path / "pk_state", base_activation=base_fun).model
        assert relative_error(stated(cancer[0]), want) < TOLERANCE


def test_a_pykan_head_inside_a_bigger_model(tmp_path, pykan_digits, digits):
    model, folder = pykan_digits
    state = torch.load(folder / "fit_state", weights_only=True)
    bigger = {"backbone.weight": torch.ones(3), **{f"head.{key}": value.contiguous() for key, value in state.items()}}
    save_file(bigger, str(tmp_path / "net.safetensors"))
    loaded = read_model(tmp_path / "net.safetensors", base_activation="silu")
    assert (loaded.prefix, loaded.source_format) == ("head.", "pykan")
    with torch.no_grad():
        assert relative_error(loaded.model(digits[0]), model(digits[0])) < TOLERANCE
    save_file({**bigger, "head.extra.weight": torch.ones(2)}, str(tmp_path / "extra.safetensors"))
    with pytest.raises(SharekanError, match=r"1 tensor under prefix 'head\.' that the pykan importer does not use: head\.extra"):
        read_model(tmp_path / "extra.safetensors", base_activation="silu")
