"""sk.decompressed_state_dict (runtime/decompressed_module.py): a CNN on digits whose KAN head (FastKAN, ChebyKAN,
Gram/KAGN, torchkan or efficient-kan, reference layers written from each library's published math) is compressed
in place at K = 64 Int8, put back in its libraries' own layouts and loaded strictly into a fresh, untrained copy of
the original net: its output equals the compressed net's."""
from __future__ import annotations

import copy
from typing import Callable

import pytest
import torch
from digits_net import DigitsNet, digits_tensors, relative_error
from efficient_kan_reference import ReferenceKAN, ReferenceKANLinear, train
from other_basis_reference import ChebyKANLayer, FastKANLayer, GramLayer
from torch import nn
from torchkan_reference import TorchKAN

import sharekan_core as sk
from sharekan_core.errors import SharekanError
from sharekan_core.runtime.compressed_basis import CompressedBasisHead
from sharekan_core.runtime.in_place import CompressedHead
from sharekan_core.runtime.swap_record import SwappedFrom
from sharekan_core.runtime.torchkan_in_place import TorchKANStack

TOLERANCE = 1e-5  # relative: the fresh original net must compute what the compressed one does
CONFIG = sk.CompressionConfig(codebook_size=64, bits=8)
TRAIN = 400

NETS: dict[str, Callable[[], nn.Module]] = {
    "FastKAN": lambda: nn.Sequential(FastKANLayer(64, 16), FastKANLayer(16, 10)),
    # a LayerNorm between the layers, as ChebyKAN's own examples have it (without one, training here reaches NaN)
    "ChebyKAN": lambda: nn.Sequential(ChebyKANLayer(64, 16), nn.LayerNorm(16), ChebyKANLayer(16, 10)),
    "Gram/KAGN": lambda: nn.Sequential(GramLayer(64, 16), GramLayer(16, 10)),
    "torchkan": lambda: TorchKAN([64, 12, 10], base_activation=nn.SiLU),
    "torchkan with spline_scalers": lambda: TorchKAN([64, 12, 10], base_activation=nn.SiLU, spline_scalers=True),
    "efficient-kan": lambda: ReferenceKAN([64, 12, 10]),
    "efficient-kan layers around a LayerNorm, no scaler": lambda: nn.Sequential(
        ReferenceKANLinear(64, 12, standalone_scaler=False), nn.LayerNorm(12),
        ReferenceKANLinear(12, 10, standalone_scaler=False)),
}
PARTS = {"FastKAN": CompressedBasisHead, "ChebyKAN": CompressedBasisHead, "Gram/KAGN": CompressedBasisHead,
         "torchkan": TorchKANStack, "torchkan with spline_scalers": TorchKANStack, "efficient-kan": CompressedHead,
         "efficient-kan layers around a LayerNorm, no scaler": CompressedHead}


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """600 digits: the first 400 train and calibrate, the other 200 are compared on."""
    return digits_tensors(600)


@pytest.fixture(scope="module")
def efficient(digits) -> DigitsNet:
    """The efficient-kan net, compressed (tests that change it take a deep copy)."""
    return _compressed("efficient-kan", digits)


def _net(family: str, seed: int = 0) -> DigitsNet:
    torch.manual_seed(seed)
    return DigitsNet(NETS[family](), batch_norm=True)  # a BatchNorm, so buffers outside the head travel too


def _compressed(family: str, digits) -> DigitsNet:
    """The family's net trained 20 full-batch Adam steps, then compressed in place at K = 64 Int8, calibrated."""
    net = train(_net(family), digits[0][:TRAIN], digits[1][:TRAIN], steps=20).eval()
    sk.compress_(net, CONFIG, calibration=sk.calibration_from(net, digits[0][:TRAIN]))
    return net


@pytest.mark.parametrize("family", list(NETS))
def test_the_original_net_loads_it_strictly_and_computes_the_compressed_output(digits, family):
    net = _compressed(family, digits)
    assert any(isinstance(part, PARTS[family]) for part in net.modules())
    state = sk.decompressed_state_dict(net)
    fresh = _net(family, seed=1).eval()  # other weights: a tensor left out or misplaced would show
    assert set(state) == set(fresh.state_dict())
    fresh.load_state_dict(state, strict=True)
    held_out = digits[0][TRAIN:]
    with torch.no_grad():
        want, got = net(held_out), fresh(held_out)
    assert relative_error(got, want) < TOLERANCE, family
    assert torch.equal(state["backbone.1.running_mean"], net.backbone[1].running_mean)


def test_a_net_restored_by_load_compressed_into_goes_back_the_same_way(efficient):
    restored = _net("efficient-kan", seed=2)
    sk.load_compressed_into(restored, sk.compressed_state_dict(efficient))
    assert isinstance(restored.head, CompressedHead)
    want, got = sk.decompressed_state_dict(efficient), sk.decompressed_state_dict(restored)
    assert list(got) == list(want) and all(torch.equal(got[key], want[key]) for key in want)


def test_a_module_with_nothing_compressed_gives_its_own_state_dict():
    net = _net("Gram/KAGN")
    state = sk.decompressed_state_dict(net)
    own = net.state_dict()
    assert list(state) == list(own) and all(torch.equal(state[key], own[key]) for key in own)
    assert state["head.0.base_weights"].data_ptr() != own["head.0.base_weights"].data_ptr()  # a copy


def _efficient_kan_net_with(head: nn.Module) -> DigitsNet:
    net = _net("efficient-kan")
    net.head = head
    return net


def test_a_compressed_part_whose_origin_was_not_recorded_is_refused():
    kan = sk.KAN(sk.KANConfig((64, 8, 10), grid_size=5))
    net = _efficient_kan_net_with(CompressedHead(sk.compress(kan, CONFIG)))  # built by hand, not by compress_
    with pytest.raises(SharekanError, match=r"^head: a CompressedHead whose original library was not recorded"):
        sk.decompressed_state_dict(net)


@pytest.mark.parametrize("record, message", [
    (SwappedFrom("efficient-kan", (("layers.0.grid", (64, 9)),)), r"^head: the efficient-kan layout decoded from "
     r"its codes does not fit the module it replaced: it holds another shape of layers\.0\.grid; holds "
     r"layers\.0\.base_weight"),
    (SwappedFrom("no-such-family", ()), r"^head: unknown layout 'no-such-family'"),
])
def test_a_part_whose_layout_cannot_be_written_is_refused_by_name(efficient, record, message):
    net = copy.deepcopy(efficient)
    net.head.swapped_from = record
    with pytest.raises(SharekanError, match=message):
        sk.decompressed_state_dict(net)
