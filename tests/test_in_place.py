"""compress_ on a whole torch model: its KAN head (efficient-kan or flashkan) swapped in place for the compressed-domain
module, the backbone untouched, calibration captured by a forward hook (sharekan_core/runtime/in_place.py)."""
from __future__ import annotations

import pytest
import torch
from digits_net import DigitsNet, digits_tensors
from efficient_kan_reference import ReferenceKAN, train
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
    gelu = _net(trained_state, base_activation=nn.GELU)
    with pytest.raises(SharekanError, match="base activation is 'gelu'"):
        compress_(gelu, sk.CompressionConfig(codebook_size=8))
    assert isinstance(gelu.head, ReferenceKAN)
    sloped = _net(trained_state, base_activation=lambda: nn.LeakyReLU(0.2))
    with pytest.raises(SharekanError, match=r"head: holds LeakyReLU\(negative_slope=0.2\), which is not a base activation"):
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
