"""compress_ on a whole torch model: its KAN head (efficient-kan or flashkan) swapped in place for the compressed-domain
module, the backbone untouched, calibration captured by a forward hook (sharekan_core/runtime/in_place.py)."""
from __future__ import annotations

import pytest
import torch
from digits_net import DigitsNet, digits_tensors
from efficient_kan_reference import ReferenceKAN, ReferenceKANLinear, train
from torch import nn

import sharekan_core as sk
from sharekan_core.errors import SharekanError
from sharekan_core.runtime.in_place import CompressedHead

calibration_from, compress_ = sk.calibration_from, sk.compress_  # the public names


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return digits_tensors()


@pytest.fixture(scope="module")
def trained_state(digits) -> dict:
    torch.manual_seed(0)
    return train(DigitsNet(ReferenceKAN([64, 8, 10])), *digits, steps=40).state_dict()


def _net(state: dict, **options) -> DigitsNet:
    net = DigitsNet(ReferenceKAN([64, 8, 10], **options))
    net.load_state_dict(state)
    return net.eval()


def test_compress_in_place_swaps_the_head_and_keeps_the_backbone(digits, trained_state):
    pixels, labels = digits
    net = _net(trained_state)
    with torch.no_grad():
        dense = net(pixels)
    backbone = net.backbone
    samples = calibration_from(net, pixels)
    assert list(samples) == ["head"] and samples["head"].shape == (600, 64)
    with torch.no_grad():
        assert torch.equal(samples["head"], backbone(pixels.view(-1, 1, 8, 8)))
    compressed = compress_(net, sk.CompressionConfig(codebook_size=64), calibration=samples)
    assert isinstance(net.head, CompressedHead) and net.backbone is backbone and list(compressed) == ["head"]
    with torch.no_grad():
        outputs = net(pixels)
        alone = sk.CompressedDomainKAN(compressed["head"])(samples["head"])
        assert torch.allclose(outputs, alone, atol=1e-5)
        agreement = float((outputs.argmax(1) == dense.argmax(1)).float().mean())
        accuracy = float((outputs.argmax(1) == labels).float().mean())
        dense_accuracy = float((dense.argmax(1) == labels).float().mean())
    assert agreement > 0.95 and accuracy > dense_accuracy - 0.03, (agreement, accuracy, dense_accuracy)


def test_filter_and_refusals(digits, trained_state):
    net = _net(trained_state)
    assert compress_(net, sk.CompressionConfig(codebook_size=8), filter_fn=lambda kan, name: name != "head") == {}
    assert isinstance(net.head, ReferenceKAN)
    with pytest.raises(SharekanError, match="the module itself is a KAN"):
        compress_(net.head, sk.CompressionConfig(codebook_size=8))
    sloped = _net(trained_state, base_activation=lambda: nn.LeakyReLU(0.2))
    with pytest.raises(SharekanError, match=r"head: holds a module that is not a base activation .*: LeakyReLU\(negative_slope=0.2\) is not one"):
        compress_(sloped, sk.CompressionConfig(codebook_size=8))


def test_a_flashkan_head(digits):
    flashkan = pytest.importorskip("flashkan")
    import flashkan.basis
    import flashkan.layer

    patch = pytest.MonkeyPatch()
    patch.setattr(flashkan.layer, "bspline_basis", flashkan.basis.bspline_basis_eager)
    try:
        torch.manual_seed(0)
        net = train(DigitsNet(flashkan.KANNetwork([64, 8, 10])), *digits, steps=40)
        with torch.no_grad():
            dense = net(digits[0])
        compress_(net, sk.CompressionConfig(codebook_size=64), calibration=calibration_from(net, digits[0]))
        with torch.no_grad():
            agreement = float((net(digits[0]).argmax(1) == dense.argmax(1)).float().mean())
        assert isinstance(net.head, CompressedHead) and agreement > 0.95
    finally:
        patch.undo()


class NormedKAN(nn.Module):
    """efficient-kan layers with a LayerNorm after each hidden layer (``norms.0.weight``, ...), as users add them."""

    def __init__(self, widths: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(ReferenceKANLinear(i, o) for i, o in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for width in widths[1:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.norms):
                x = self.norms[index](x)
        return x


@pytest.mark.parametrize("head", [
    lambda: NormedKAN([64, 8, 10]),
    lambda: nn.Sequential(ReferenceKANLinear(64, 8), nn.LayerNorm(8), ReferenceKANLinear(8, 10)),
    lambda: nn.Sequential(ReferenceKANLinear(64, 8), nn.ReLU(), ReferenceKANLinear(8, 10)),
    lambda: nn.Sequential(ReferenceKANLinear(64, 8), ReferenceKANLinear(8, 10), nn.Softmax(dim=-1)),
], ids=["norms", "sequential-norm", "sequential-relu", "sequential-softmax-after"])
def test_norms_between_kan_layers_stay_and_each_layer_is_compressed(digits, head):
    """The file importer refuses these (it cannot reproduce the norms); in place, each KAN layer is swapped for its
    compressed module and the module's own forward still applies the norms and activations between them."""
    torch.manual_seed(0)
    net = train(DigitsNet(head()), *digits, steps=40)
    norms = [child for child in net.head.modules() if not isinstance(child, ReferenceKANLinear)
             and not list(child.children()) and not isinstance(child, nn.SiLU)]
    with torch.no_grad():
        dense = net(digits[0])
    samples = calibration_from(net, digits[0])
    layer_names = [name for name, child in net.named_modules() if isinstance(child, ReferenceKANLinear)]
    assert list(samples) == layer_names and samples[layer_names[1]].shape == (600, 8)
    compressed = compress_(net, sk.CompressionConfig(codebook_size=64), calibration=samples)
    assert list(compressed) == layer_names
    assert all(isinstance(net.get_submodule(name), CompressedHead) for name in layer_names)
    assert norms and all(any(child is norm for child in net.head.modules()) for norm in norms)
    with torch.no_grad():
        outputs = net(digits[0])
    agreement = float((outputs.argmax(1) == dense.argmax(1)).float().mean())
    assert agreement > 0.95, agreement


def test_a_layer_holding_its_own_norm_and_prelu_is_refused_by_name(digits):
    """torch-conv-kan's B-spline KANLayer applies a LayerNorm and a PReLU inside the layer: no module boundary
    lets the compressed layer leave them in place, so compress_ refuses it and changes nothing."""
    layer = ReferenceKANLinear(64, 10)
    layer.layer_norm, layer.prelu = nn.LayerNorm(10), nn.PReLU()
    net = DigitsNet(layer)
    with pytest.raises(SharekanError, match=r"DigitsNet.head: 3 tensors that the efficient-kan importer does not use: "
                                            r"layer_norm.weight, layer_norm.bias, prelu.weight"):
        compress_(net, sk.CompressionConfig(codebook_size=8))
    assert net.head is layer


def test_an_activation_is_named_by_what_it_computes_not_by_how_it_prints():
    """SiLU(inplace=True) prints unlike SiLU() but computes it (it was refused); a Dropout or a re-parameterised
    activation computes no base activation and is refused; two different ones in one KAN are ambiguous."""
    from sharekan_core.runtime.in_place import live_activation

    assert live_activation(ReferenceKAN([4, 3], base_activation=lambda: nn.SiLU(inplace=True)), "head") == "silu"
    assert live_activation(ReferenceKAN([4, 3], base_activation=nn.Hardswish), "head") == "hardswish"
    for module, message in ((nn.Dropout, r"Dropout\(p=0.5, inplace=False\) is not one"),
                            (lambda: nn.ELU(alpha=0.5), r"ELU\(alpha=0.5\) is not one")):
        with pytest.raises(SharekanError, match=message):
            live_activation(ReferenceKAN([4, 3], base_activation=module), "head")
    mixed = ReferenceKAN([4, 3, 2])
    mixed.layers[1].base_activation = nn.GELU()
    with pytest.raises(SharekanError, match=r"ambiguous: gelu, silu"):
        live_activation(mixed, "head")
