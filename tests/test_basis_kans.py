"""FastKAN (Gaussian RBFs, LayerNorm before each layer) and ChebyKAN (Chebyshev polynomials of tanh x) layers:
imported exactly from the reference layers (written from the libraries' published math) trained on digits, and
compressed in place by compress_ (gain-shape-bias, shared codebook, K = 64, Int8), their LayerNorms left dense."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from efficient_kan_reference import train
from other_basis_reference import ChebyKANLayer, FastKANLayer, LayerList
from torch import nn

import sharekan_core as sk
from digits_net import digits_tensors, relative_error
from sharekan_core.errors import SharekanError
from sharekan_core.compression.basis_compressor import decompress_basis_layer
from sharekan_core.io.chebykan import chebykan_layer, chebykan_state
from sharekan_core.io.fastkan import fastkan_layer, fastkan_state
from sharekan_core.model.basis_kan import BasisKANLayer
from sharekan_core.runtime.basis_in_place import live_basis_layer
from sharekan_core.runtime.compressed_basis import CompressedBasisHead

TOLERANCE = 1e-5  # relative: outputs must equal the library's own
TRAIN = 1200



@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits, pixels scaled to [-1, 1], and their labels (the first 1,200 train)."""
    return digits_tensors(None)


@pytest.fixture(scope="module")
def nets(digits) -> dict[str, nn.Module]:
    """A [64, 16, 10] FastKAN and a ChebyKAN with a LayerNorm between its layers, each trained 80 steps."""
    torch.manual_seed(0)
    fast = nn.Sequential(FastKANLayer(64, 16), FastKANLayer(16, 10))
    torch.manual_seed(0)
    cheby = nn.Sequential(ChebyKANLayer(64, 16, degree=4), nn.LayerNorm(16), ChebyKANLayer(16, 10, degree=4))
    return {name: train(net, digits[0][:TRAIN], digits[1][:TRAIN], steps=80) for name, net in
            (("FastKAN", fast), ("ChebyKAN", cheby))}


def imported(net: nn.Module) -> nn.Sequential:
    """The net with each reference layer replaced by its import (read from its state dict and live attributes)."""
    return nn.Sequential(*(live_basis_layer(layer, str(index), "FastKAN" if isinstance(layer, FastKANLayer)
                                            else "ChebyKAN") if isinstance(layer, (FastKANLayer, ChebyKANLayer))
                           else layer for index, layer in enumerate(net)))


@pytest.mark.parametrize("family", ["FastKAN", "ChebyKAN"])
def test_import_equals_the_reference_forward(digits, nets, family):
    held_out = digits[0][TRAIN:]
    with torch.no_grad():
        assert relative_error(imported(nets[family])(held_out), nets[family](held_out)) < TOLERANCE
    assert all(isinstance(layer, (BasisKANLayer, nn.LayerNorm)) for layer in imported(nets[family]))


def test_importers_refuse_bad_tensors(nets):
    fast = {key: value.clone() for key, value in nets["FastKAN"][0].state_dict().items()}
    with pytest.raises(SharekanError, match="0.extra"):
        fastkan_layer({**fast, "extra": torch.zeros(1)}, "0.", "net", 0.5)
    fast["spline_linear.weight"][0, 0] = float("nan")
    with pytest.raises(SharekanError, match=r"0\.spline_linear\.weight contains NaN"):
        fastkan_layer(fast, "0.", "net", 0.5)
    with pytest.raises(SharekanError, match="not a multiple"):
        fastkan_layer({"rbf.grid": torch.zeros(3), "spline_linear.weight": torch.zeros(2, 4)}, "", "net", 0.5)
    cheby = dict(nets["ChebyKAN"][0].state_dict())
    with pytest.raises(SharekanError, match=r"2\.arange is not 0\.\.4"):
        chebykan_layer({**cheby, "arange": torch.arange(5) * 2}, "2.", "net")


@pytest.mark.parametrize("family", ["FastKAN", "ChebyKAN"])
def test_compress_in_place_keeps_accuracy(digits, nets, family):
    net = pickle_free_copy(nets[family])
    pixels, labels = digits
    held_out, truth = pixels[TRAIN:], labels[TRAIN:]
    with torch.no_grad():
        dense = net(held_out)
    samples = sk.calibration_from(net, pixels[:400])
    compressed = sk.compress_(net, sk.CompressionConfig(codebook_size=64, bits=8), calibration=samples)
    kan_names = [name for name, layer in nets[family].named_children() if not isinstance(layer, nn.LayerNorm)]
    assert sorted(compressed) == kan_names
    assert all(isinstance(net.get_submodule(name), CompressedBasisHead) for name in kan_names)
    if family == "ChebyKAN":
        assert isinstance(net[1], nn.LayerNorm) and torch.equal(net[1].weight, nets[family][1].weight)
    with torch.no_grad():
        coded = net(held_out)
        # the compressed-domain forward equals the dense layer built from the decoded coefficients
        first = compressed[kan_names[0]]
        decoded = decompress_basis_layer(first)
        assert relative_error(net.get_submodule(kan_names[0])(held_out), decoded(held_out)) < TOLERANCE
        # written back in the library's own layout, it loads strictly into the reference layer and runs the same
        native = nets[family][0].__class__(*{"FastKAN": (64, 16), "ChebyKAN": (64, 16, 4)}[family])
        native.load_state_dict((fastkan_state if family == "FastKAN" else chebykan_state)(decoded), strict=True)
        assert relative_error(native(held_out), decoded(held_out)) < TOLERANCE
    dense_accuracy = float((dense.argmax(1) == truth).float().mean())
    compressed_accuracy = float((coded.argmax(1) == truth).float().mean())
    agreement = float((coded.argmax(1) == dense.argmax(1)).float().mean())
    dense_bytes = sum(t.numel() * t.element_size() for name in kan_names
                      for t in nets[family].get_submodule(name).state_dict().values())
    stored_bytes = sum(layer.nbytes for layer in compressed.values())
    print(f"{family}: held-out accuracy {dense_accuracy:.3f} -> {compressed_accuracy:.3f}, "
          f"agreement with the teacher {agreement:.3f}, bytes {dense_bytes} -> {stored_bytes}")
    assert stored_bytes < dense_bytes / 4
    assert dense_accuracy > 0.85 and compressed_accuracy > dense_accuracy - 0.03 and agreement > 0.95


def test_compress_in_place_refuses_what_it_cannot_reproduce(nets):
    net = pickle_free_copy(nets["FastKAN"])
    net[0].base_activation = lambda x: F.silu(x) * 2
    with pytest.raises(SharekanError, match="0: base activation"):
        sk.compress_(net, sk.CompressionConfig(codebook_size=8))
    assert isinstance(net[0], FastKANLayer) and isinstance(net[1], FastKANLayer)
    with pytest.raises(SharekanError, match="UniformConfig is not available for FastKAN"):
        sk.compress_(pickle_free_copy(nets["FastKAN"]), sk.UniformConfig())
    with pytest.raises(SharekanError, match="module itself is a ChebyKAN layer"):
        sk.compress_(pickle_free_copy(nets["ChebyKAN"])[0], sk.CompressionConfig(codebook_size=8))
    cheby = pickle_free_copy(nets["ChebyKAN"])
    sk.compress_(cheby, sk.CompressionConfig(codebook_size=8))
    assert {"0.compressed_basis_header", "2.compressed_basis_header"} <= set(sk.compressed_state_dict(cheby))


def pickle_free_copy(net: nn.Module) -> nn.Module:
    """A fresh copy of ``net`` (built anew, its tensors loaded), so each test compresses its own."""
    layers = []
    for layer in net:
        if isinstance(layer, FastKANLayer):
            layers.append(FastKANLayer(layer.base_linear.in_features, layer.base_linear.out_features))
        elif isinstance(layer, ChebyKANLayer):
            coefficients = layer.cheby_coeffs
            layers.append(ChebyKANLayer(coefficients.shape[0], coefficients.shape[1], coefficients.shape[2] - 1))
        else:
            layers.append(nn.LayerNorm(layer.normalized_shape))
    copy = nn.Sequential(*layers)
    copy.load_state_dict(net.state_dict())
    return copy.eval()


def test_compress_in_place_finds_fastkan_layers_in_a_module_list_and_honours_filter_fn(digits, nets):
    model = LayerList(list(pickle_free_copy(nets["FastKAN"])))  # FastKAN's own net layout
    assert sk.compress_(model, sk.CompressionConfig(codebook_size=8), filter_fn=lambda kan, name: False) == {}
    assert all(isinstance(layer, FastKANLayer) for layer in model.layers)
    compressed = sk.compress_(model, sk.CompressionConfig(codebook_size=64),
                              filter_fn=lambda kan, name: name == "layers.1")
    assert list(compressed) == ["layers.1"]
    assert isinstance(model.layers[0], FastKANLayer) and isinstance(model.layers[1], CompressedBasisHead)
    with torch.no_grad():
        agreement = (model(digits[0][TRAIN:]).argmax(1) == nets["FastKAN"](digits[0][TRAIN:]).argmax(1)).float().mean()
    assert agreement > 0.95
