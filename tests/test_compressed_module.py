"""compressed_state_dict / load_compressed_into (sharekan_core/runtime/compressed_module.py): a CNN with an
efficient-kan head trained on digits, compressed in place, saved, and restored into a fresh, untrained copy."""
from __future__ import annotations

import json

import pytest
import torch
from digits_net import DigitsNet, digits_tensors
from efficient_kan_reference import ReferenceKAN, ReferenceKANLinear, train
from safetensors.torch import load_file, save_file
from torch import nn

import sharekan_core as sk
from sharekan_core.runtime.in_place import CompressedHead

WIDTHS = [64, 8, 10]


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return digits_tensors()


@pytest.fixture(scope="module")
def compressed_net(digits) -> DigitsNet:
    torch.manual_seed(0)
    net = train(_net(), *digits, steps=40)
    sk.compress_(net, sk.CompressionConfig(codebook_size=64), calibration=sk.calibration_from(net, digits[0]))
    return net


def _net(widths: list[int] = WIDTHS) -> DigitsNet:
    return DigitsNet(ReferenceKAN(widths), batch_norm=True)  # a BatchNorm, so buffers travel too


def _fresh(seed: int = 1, widths: list[int] = WIDTHS) -> DigitsNet:
    torch.manual_seed(seed)  # other weights than the trained net's, so a restore that missed a tensor shows
    return _net(widths).eval()


@pytest.mark.parametrize("writer", ["safetensors", "torch"])
def test_round_trip_into_a_fresh_model_gives_identical_outputs(tmp_path, digits, compressed_net, writer):
    path = tmp_path / f"net.{writer}"
    state = sk.compressed_state_dict(compressed_net)
    assert "head.compressed_header" in state and not any(key.startswith("head.kan.") for key in state)
    save_file(state, path) if writer == "safetensors" else torch.save(state, path)
    fresh = _fresh()
    restored = sk.load_compressed_into(fresh, path)
    assert list(restored) == ["head"] and isinstance(fresh.head, CompressedHead)
    with torch.no_grad():
        assert torch.equal(fresh(digits[0]), compressed_net(digits[0]))
    assert sk.compressed_state_dict(fresh).keys() == state.keys()


def test_a_compressed_model_takes_a_new_state_too(digits, compressed_net):
    """Loading into a module whose head is already compressed swaps it for the stored one."""
    fresh = _fresh()
    sk.compress_(fresh, sk.CompressionConfig(codebook_size=8))
    sk.load_compressed_into(fresh, sk.compressed_state_dict(compressed_net))
    with torch.no_grad():
        assert torch.equal(fresh(digits[0]), compressed_net(digits[0]))


def _refused(source, module: nn.Module | None = None, match: str = "") -> None:
    module = module or _fresh()
    before = {key: value.clone() for key, value in module.state_dict().items()}
    with pytest.raises(sk.SharekanError, match=match) as caught:
        sk.load_compressed_into(module, source)
    assert "\n" not in str(caught.value)
    assert isinstance(module.head, ReferenceKAN), "a refused file changed the module"
    assert all(torch.equal(before[key], value) for key, value in module.state_dict().items())


def test_bad_files_are_refused_with_one_line_and_the_module_unchanged(tmp_path, compressed_net):
    state = sk.compressed_state_dict(compressed_net)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a tensor file at all")
    _refused(garbage, match="garbage.safetensors: unknown format")
    dense = tmp_path / "dense.safetensors"
    save_file({key: value.contiguous() for key, value in _fresh().state_dict().items()}, dense)
    _refused(dense, match="dense.safetensors: holds no compressed KAN")

    flipped = dict(state)
    indices = flipped["head.layers.0.indices"].clone()
    indices[0] ^= 1
    flipped["head.layers.0.indices"] = indices
    _refused(flipped, match="state dict: head: corrupted file \\(tensor data does not match its checksum\\)")

    header = json.loads(state["head.compressed_header"].numpy().tobytes())
    header["config"]["codebook_size"] = 65
    forged = {**state, "head.compressed_header": torch.tensor(list(json.dumps(header).encode()), dtype=torch.uint8)}
    _refused(forged, match="head: corrupted file \\(header fields do not match their checksum\\)")
    _refused({**state, "head.compressed_header": torch.zeros(4)}, match="head.compressed_header is not a compressed")

    lacking = {key: value for key, value in state.items() if key != "head.layers.1.grid"}
    _refused(lacking, match="head: ")
    elsewhere = {key.replace("head.", "tail.", 1): value for key, value in state.items()}
    _refused(elsewhere, match="holds a compressed KAN at 'tail', but DigitsNet has no submodule 'tail'")
    _refused(state, _fresh(widths=[64, 6, 10]), match=r"has widths \[64, 8, 10\], but DigitsNet.head has \[64, 6, 10\]")
    no_backbone = {key: value for key, value in state.items() if not key.startswith("backbone.1.")}
    _refused(no_backbone, match="does not fit DigitsNet: it lacks backbone.1.weight")
    _refused({**state, "extra.weight": torch.zeros(2)}, match="holds extra.weight that the module has not")
    _refused({**state, "backbone.0.bias": torch.zeros(5)}, match=r"backbone.0.bias has shape \(5,\)")


def test_a_module_without_compressed_kans_has_no_compressed_state():
    with pytest.raises(sk.SharekanError, match="DigitsNet holds no compressed KAN; run sk.compress_ on it first"):
        sk.compressed_state_dict(_fresh())


def test_the_saved_file_is_the_compressed_file_tensors(tmp_path, compressed_net):
    """The head's tensors are exactly what save_compressed writes for it (one accounting of its bytes)."""
    save_file(sk.compressed_state_dict(compressed_net), tmp_path / "net.safetensors")
    sk.save_compressed(compressed_net.head.compressed, tmp_path / "head.skan")
    stored = {key[len("head."):]: value for key, value in load_file(tmp_path / "net.safetensors").items()
              if key.startswith("head.") and not key.endswith("compressed_header")}
    alone = load_file(tmp_path / "head.skan")
    assert stored.keys() == alone.keys() and all(torch.equal(stored[key], alone[key]) for key in alone)


def test_a_kan_with_norms_between_layers_round_trips_layer_by_layer(digits):
    """compress_ swaps each layer of a KAN with a LayerNorm between layers on its own; the saved state restores
    every layer's compressed module and the norm into a fresh copy."""
    def net() -> DigitsNet:
        return DigitsNet(nn.Sequential(ReferenceKANLinear(64, 8), nn.LayerNorm(8), ReferenceKANLinear(8, 10)))

    torch.manual_seed(0)
    trained = train(net(), *digits, steps=20)
    sk.compress_(trained, sk.CompressionConfig(codebook_size=16))
    state = sk.compressed_state_dict(trained)
    assert {"head.0.compressed_header", "head.2.compressed_header", "head.1.weight"} <= set(state)
    torch.manual_seed(1)
    fresh = net().eval()
    assert list(sk.load_compressed_into(fresh, state)) == ["head.0", "head.2"]
    with torch.no_grad():
        assert torch.equal(fresh(digits[0]), trained(digits[0]))
