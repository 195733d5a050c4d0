"""torch-conv-kan's Gram (KAGN) layers: imported exactly from the reference GRAMLayer (tests/other_basis_reference.py,
written from the library's published math) trained on digits, and compressed in place by compress_ (K = 64, Int8),
the recurrence's beta weights and the LayerNorm after the sum left dense. A Gram net's file is read by the file
importer once its activation is stated (tests/test_io_other_bases.py)."""
from __future__ import annotations

import pytest
import torch
from efficient_kan_reference import train
from other_basis_reference import GramLayer
from torch import nn

import sharekan_core as sk
from digits_net import DigitsNet, digits_tensors, relative_error
from sharekan_core.compression.basis_compressor import decompress_basis_layer
from sharekan_core.errors import SharekanError
from sharekan_core.io.gram import GRAM, gram_layer, gram_state
from sharekan_core.model.gram_kan import GramBasis
from sharekan_core.runtime.basis_in_place import live_basis_layer
from sharekan_core.runtime.compressed_basis import CompressedBasisHead

TOLERANCE = 1e-5  # relative: outputs must equal the library's own
TRAIN = 1200
ACCURACY_DROP = 0.03  # compressed (K = 64, Int8, calibrated) held-out accuracy may fall at most this far


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits, pixels scaled to [-1, 1], and their labels (the first 1,200 train)."""
    return digits_tensors(None)


def gram_net() -> DigitsNet:
    """The tests' small CNN with a [64, 16, 10] Gram head (degree 3), its weights drawn from seed 0."""
    torch.manual_seed(0)
    return DigitsNet(nn.Sequential(GramLayer(64, 16), GramLayer(16, 10)))


@pytest.fixture(scope="module")
def net(digits) -> DigitsNet:
    """The Gram net trained 60 full-batch Adam steps on 1,200 digits."""
    return train(gram_net(), digits[0][:TRAIN], digits[1][:TRAIN], steps=60)


def fresh_copy(trained: DigitsNet) -> DigitsNet:
    copy = gram_net()
    copy.load_state_dict(trained.state_dict())
    return copy.eval()


def test_import_equals_the_reference_forward(digits, net):
    features = net.backbone(digits[0][TRAIN:].view(-1, 1, 8, 8)).detach()
    imported = nn.Sequential(*(live_basis_layer(layer, f"head.{index}", GRAM) for index, layer in enumerate(net.head)))
    assert all(isinstance(layer.basis, GramBasis) for layer in imported)
    with torch.no_grad():
        assert relative_error(imported(features), net.head(features)) < TOLERANCE
        for layer, reference in zip(imported, net.head):  # each layer alone too, not only the head's argmax-level sum
            assert relative_error(layer(features), reference(features)) < TOLERANCE
            features = reference(features)


@pytest.mark.parametrize("degree, act", [(0, nn.SiLU), (1, nn.GELU), (5, nn.Tanh)])
def test_import_reads_the_degree_and_activation_off_the_layer(degree, act):
    torch.manual_seed(1)
    layer = GramLayer(6, 4, degree, act)
    with torch.no_grad():  # away from initialisation, so every tensor matters
        for parameter in layer.parameters():
            parameter.add_(torch.randn_like(parameter))
    inputs = 2 * torch.randn(32, 6)
    imported = live_basis_layer(layer, "layer", GRAM)
    with torch.no_grad():
        assert relative_error(imported(inputs), layer(inputs)) < TOLERANCE


def test_compress_in_place_keeps_accuracy(digits, net):
    pixels, labels = digits
    held_out, truth = pixels[TRAIN:], labels[TRAIN:]
    model = fresh_copy(net)
    with torch.no_grad():
        dense = model(held_out)
    compressed = sk.compress_(model, sk.CompressionConfig(codebook_size=64, bits=8),
                              calibration=sk.calibration_from(model, pixels[:400]))
    assert sorted(compressed) == ["head.0", "head.1"]
    assert all(isinstance(layer, CompressedBasisHead) for layer in model.head)
    assert isinstance(model.backbone[0], nn.Conv2d) and torch.equal(model.backbone[0].weight, net.backbone[0].weight)
    # the basis's beta weights and the LayerNorm after the sum stay dense, exactly the trained ones
    assert torch.equal(model.head[0].basis.beta_weights, net.head[0].beta_weights)
    assert torch.equal(model.head[1].output.norm.weight, net.head[1].norm.weight)
    features = net.backbone(held_out.view(-1, 1, 8, 8)).detach()
    with torch.no_grad():
        coded = model(held_out)
        decoded = decompress_basis_layer(compressed["head.0"])
        assert relative_error(model.head[0](features), decoded(features)) < TOLERANCE
        # written back in GRAMLayer's layout, it loads strictly into the reference layer and runs the same
        native = GramLayer(64, 16)
        native.load_state_dict(gram_state(decoded), strict=True)
        assert relative_error(native(features), decoded(features)) < TOLERANCE
    dense_accuracy = float((dense.argmax(1) == truth).float().mean())
    compressed_accuracy = float((coded.argmax(1) == truth).float().mean())
    agreement = float((coded.argmax(1) == dense.argmax(1)).float().mean())
    dense_bytes = sum(t.numel() * t.element_size() for t in net.head.state_dict().values())
    stored_bytes = sum(layer.nbytes for layer in compressed.values())
    print(f"Gram/KAGN: held-out accuracy {dense_accuracy:.3f} -> {compressed_accuracy:.3f} (tolerance "
          f"{ACCURACY_DROP}), agreement with the teacher {agreement:.3f}, bytes {dense_bytes} -> {stored_bytes}")
    assert dense_accuracy > 0.85 and compressed_accuracy > dense_accuracy - ACCURACY_DROP and agreement > 0.95
    assert stored_bytes < dense_bytes / 4


def test_importer_refuses_tensors_that_do_not_fit(net):
    tensors = {key: value.clone() for key, value in net.head[0].state_dict().items()}
    cases = {  # tensors -> what the one error line names
        "extra": ({**tensors, "inner_proj.weight": torch.zeros(2, 2)}, r"head\.0\.inner_proj\.weight is not part"),
        "beta": ({**tensors, "beta_weights": torch.zeros(3)}, r"head\.0\.beta_weights has shape \(3,\), expected \(4,\)"),
        "base": ({**tensors, "base_weights": tensors["base_weights"].T},
                 r"head\.0\.base_weights has shape \(64, 16\), expected \(16, 64\)"),
        "norm": ({**tensors, "norm.bias": torch.zeros(64)}, r"head\.0\.norm\.bias has shape \(64,\), expected \(16,\)"),
        "coefficients": ({**tensors, "grams_basis_weights": torch.zeros(64, 16)}, r"grams_basis_weights must be 3-D"),
        "missing": ({k: v for k, v in tensors.items() if k != "norm.weight"}, r"lacks head\.0\.norm\.weight"),
    }
    nan = dict(tensors)
    nan["grams_basis_weights"] = nan["grams_basis_weights"].clone()
    nan["grams_basis_weights"][3, 2, 1] = float("nan")
    cases["nan"] = (nan, r"head\.0\.grams_basis_weights contains NaN")
    for name, (bad, message) in cases.items():
        with pytest.raises(SharekanError, match=message) as refusal:
            gram_layer(bad, "head.0.", "head.0")
        assert "\n" not in str(refusal.value), name


def test_compress_in_place_refuses_a_layer_it_cannot_reproduce(net):
    model = fresh_copy(net)
    with torch.no_grad():
        model.head[1].grams_basis_weights[0, 0, 0] = float("nan")
    with pytest.raises(SharekanError, match=r"head\.1\.grams_basis_weights contains NaN"):
        sk.compress_(model, sk.CompressionConfig(codebook_size=8))
    model = fresh_copy(net)
    model.head[0].act = nn.LeakyReLU(0.2)
    with pytest.raises(SharekanError, match=r"head\.0: act LeakyReLU\(negative_slope=0\.2\) is not one"):
        sk.compress_(model, sk.CompressionConfig(codebook_size=8))
    model.head[0].act, model.head[1].norm = nn.SiLU(), nn.BatchNorm1d(10)
    with pytest.raises(SharekanError, match=r"head\.1: norm is BatchNorm1d"):
        sk.compress_(model, sk.CompressionConfig(codebook_size=8))
    assert all(isinstance(layer, GramLayer) for layer in model.head)  # nothing swapped when a layer is refused
