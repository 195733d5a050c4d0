"""sk.decompressed_state_dict (runtime/decompressed_module.py): a CNN on digits whose KAN head (FastKAN, ChebyKAN,
Gram/KAGN, torchkan or efficient-kan, reference layers written from each library's published math) is compressed
in place at K = 64 Int8, put back in its libraries' own layouts and loaded strictly into a fresh, untrained copy of
the original net: its output equals the compressed net's. The FastKAN, ChebyKAN and Gram nets also go through
sk.compressed_state_dict / sk.load_compressed_into (runtime/compressed_module.py, format/basis_file.py)."""
from __future__ import annotations

import copy
import json
from typing import Callable

import pytest
import torch
from digits_net import DigitsNet, digits_tensors, relative_error
from efficient_kan_reference import ReferenceKAN, ReferenceKANLinear, train
from safetensors.torch import save_file
from other_basis_reference import ChebyKANLayer, FastKANLayer, GramLayer
from torch import nn
from torchkan_reference import TorchKAN

import sharekan_core as sk
from sharekan_core.errors import SharekanError
from sharekan_core.format.integrity import CHECKSUM_FIELD, checksum
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
    # three families in one head: an efficient-kan KAN, a FastKAN layer, a torchkan KAN (its norms kept dense)
    "mixed": lambda: nn.Sequential(ReferenceKAN([64, 12]), FastKANLayer(12, 12),
                                   TorchKAN([12, 10], base_activation=nn.SiLU)),
}
PARTS = {"FastKAN": CompressedBasisHead, "ChebyKAN": CompressedBasisHead, "Gram/KAGN": CompressedBasisHead,
         "torchkan": TorchKANStack, "torchkan with spline_scalers": TorchKANStack, "efficient-kan": CompressedHead,
         "efficient-kan layers around a LayerNorm, no scaler": CompressedHead, "mixed": TorchKANStack}


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """600 digits: the first 400 train and calibrate, the other 200 are compared on."""
    return digits_tensors(600)


@pytest.fixture(scope="module")
def compressed_nets(digits) -> Callable[[str], DigitsNet]:
    """Each family's compressed net, made once (tests that change one take a deep copy)."""
    made: dict[str, DigitsNet] = {}

    def compressed(family: str) -> DigitsNet:
        if family not in made:
            made[family] = _compressed(family, digits)
        return made[family]
    return compressed


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
def test_the_original_net_loads_it_strictly_and_computes_the_compressed_output(digits, compressed_nets, family):
    net = compressed_nets(family)
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


BASIS_FAMILIES = ["FastKAN", "ChebyKAN", "Gram/KAGN"]


@pytest.mark.parametrize("family", BASIS_FAMILIES)
def test_a_compressed_basis_net_is_saved_and_restored_into_a_fresh_net(tmp_path, digits, compressed_nets, family):
    net = compressed_nets(family)
    state = sk.compressed_state_dict(net)
    heads = [name for name, part in net.named_modules() if isinstance(part, CompressedBasisHead)]
    assert heads and {f"{name}.compressed_basis_header" for name in heads} <= set(state)
    save_file(state, tmp_path / "compressed.safetensors")
    dense = {key: value.contiguous() for key, value in _net(family).state_dict().items()}
    save_file(dense, tmp_path / "dense.safetensors")
    fresh = _net(family, seed=1).eval()
    assert list(sk.load_compressed_into(fresh, tmp_path / "compressed.safetensors")) == heads
    assert all(isinstance(fresh.get_submodule(name), CompressedBasisHead) for name in heads)
    held_out = digits[0][TRAIN:]
    with torch.no_grad():
        assert torch.equal(fresh(held_out), net(held_out)), family
    compressed_bytes = (tmp_path / "compressed.safetensors").stat().st_size
    dense_bytes = (tmp_path / "dense.safetensors").stat().st_size
    print(f"{family}: net file {dense_bytes} B dense -> {compressed_bytes} B compressed")
    assert compressed_bytes < dense_bytes
    assert sk.compressed_state_dict(fresh).keys() == state.keys()
    want, got = sk.decompressed_state_dict(net), sk.decompressed_state_dict(fresh)  # the swap record came back too
    assert list(got) == list(want) and all(torch.equal(got[key], want[key]) for key in want)


def _basis_refused(state: dict[str, torch.Tensor], family: str, match: str,
                   net: Callable[[], nn.Module] | None = None) -> None:
    torch.manual_seed(1)
    fresh = DigitsNet(net(), batch_norm=True) if net else _net(family, seed=1)
    before = {key: value.clone() for key, value in fresh.state_dict().items()}
    kinds = [type(part) for part in fresh.head]
    with pytest.raises(SharekanError, match=match) as caught:
        sk.load_compressed_into(fresh, state)
    assert "\n" not in str(caught.value)
    assert [type(part) for part in fresh.head] == kinds, "a refused state changed the module"
    after = fresh.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(before[key], after[key]) for key in before)


def _with_header(state: dict[str, torch.Tensor], header: dict, name: str = "head.0") -> dict[str, torch.Tensor]:
    encoded = torch.tensor(list(json.dumps(header).encode()), dtype=torch.uint8)
    return {**state, f"{name}.compressed_basis_header": encoded}


NARROWER = {  # each basis net with a 12-wide hidden layer instead of 16
    "FastKAN": lambda: nn.Sequential(FastKANLayer(64, 12), FastKANLayer(12, 10)),
    "ChebyKAN": lambda: nn.Sequential(ChebyKANLayer(64, 12), nn.LayerNorm(12), ChebyKANLayer(12, 10)),
    "Gram/KAGN": lambda: nn.Sequential(GramLayer(64, 12), GramLayer(12, 10)),
}
OTHER_FAMILY = {"FastKAN": "Gram/KAGN", "ChebyKAN": "FastKAN", "Gram/KAGN": "ChebyKAN"}


@pytest.mark.parametrize("family", BASIS_FAMILIES)
def test_a_stored_basis_layer_that_does_not_fit_is_refused_with_the_module_unchanged(compressed_nets, family):
    state = sk.compressed_state_dict(compressed_nets(family))
    header = json.loads(state["head.0.compressed_basis_header"].numpy().tobytes())
    assert header["family"] == family and header["shape"] == [16, 64]
    _basis_refused(_with_header(state, {**header, "base_activation": "relu"}), family,
                   r"^state dict: head\.0: corrupted file \(header fields do not match their checksum\)$")
    flipped = dict(state)
    flipped["head.0.indices"] = state["head.0.indices"].clone()
    flipped["head.0.indices"][0] ^= 1
    _basis_refused(flipped, family, r"^state dict: head\.0: corrupted file \(tensor data does not match")
    other = OTHER_FAMILY[family]
    _basis_refused(state, other, rf"^state dict: the compressed layer at 'head\.0' has family {family}, but "
                                 rf"DigitsNet\.head\.0 has {other}$")
    _basis_refused(state, family, r"^state dict: the compressed layer at 'head\.0' has shape \[16, 64\], but "
                                  r"DigitsNet\.head\.0 has \[12, 64\]$", NARROWER[family])


def test_a_forged_or_other_basis_fastkan_layer_is_refused(compressed_nets):
    state = sk.compressed_state_dict(compressed_nets("FastKAN"))
    header = json.loads(state["head.0.compressed_basis_header"].numpy().tobytes())
    forged = {key: value for key, value in header.items() if key != CHECKSUM_FIELD}
    forged["family"] = "ChebyKAN"  # checksum recomputed: only the decoder can refuse it
    arrays = {key[len("head.0."):]: value.numpy() for key, value in state.items()
              if key.startswith("head.0.") and not key.endswith("header")}
    _basis_refused(_with_header(state, {**forged, CHECKSUM_FIELD: checksum(forged, arrays)}), "FastKAN",
                   r"^state dict: head\.0: corrupt compressed basis layer \(header field 'degree' is missing\)$")
    _basis_refused(state, "FastKAN", r"has basis \{'grid_points': 8, .*\}, but DigitsNet\.head\.0 has "
                                     r"\{'grid_points': 5,",
                   lambda: nn.Sequential(FastKANLayer(64, 16, num_grids=5), FastKANLayer(16, 10)))


def test_a_head_mixing_three_families_is_saved_restored_and_put_back(tmp_path, digits, compressed_nets):
    """compress_ swaps each family's part of one head (a CompressedHead, a CompressedBasisHead, a TorchKANStack of
    CompressedHeads); compressed_state_dict stores all of them, load_compressed_into restores them into a fresh
    net bit for bit, and decompressed_state_dict of the restored net loads strictly into the original classes."""
    net = compressed_nets("mixed")
    kinds = [type(part).__name__ for part in net.head]
    assert kinds == ["CompressedHead", "CompressedBasisHead", "TorchKANStack"]
    save_file(sk.compressed_state_dict(net), tmp_path / "mixed.safetensors")
    fresh = _net("mixed", seed=1).eval()
    restored = sk.load_compressed_into(fresh, tmp_path / "mixed.safetensors")
    assert sorted(restored) == ["head.0", "head.1", "head.2.layers.0"]  # torchkan [12, 10]: one layer
    held_out = digits[0][TRAIN:]
    with torch.no_grad():
        assert torch.equal(fresh(held_out), net(held_out))
    original = _net("mixed", seed=2).eval()
    original.load_state_dict(sk.decompressed_state_dict(fresh), strict=True)
    with torch.no_grad():
        assert relative_error(original(held_out), net(held_out)) < TOLERANCE
