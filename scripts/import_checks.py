"""Measure each supported KAN family's import and compression on digits; write assets/families/import_checks.json.

For every family: a model of that library trained on the first 1,200 of scikit-learn's digits (pixels in [-1, 1]),
saved in the library's usual format, read with ``sk.load_model`` as a user would (with the options the row's example
states), held to the library's own forward on the 597 held-out digits (import error: largest |difference| over the
largest |output|), then compressed with SHARe-KAN (K = 64, Int8, calibrated on the training digits) and run in the
compressed domain. efficient-kan is GitHub-only, so its model is the reference layer
in tests/efficient_kan_reference.py (written from its published math), which this script imports, and the KAN head
sits on the tests' small CNN (tests/digits_net.py). The table in the
README is generated from the JSON (scripts/doctables/families.py).

Usage: python scripts/import_checks.py      (a few minutes on two cores; needs requirements-dev and -nodeps)
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Callable
from unittest import mock

import torch
from sklearn.datasets import load_digits
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package, and the tests' reference layers

import sharekan_core as sk  # noqa: E402
from digits_net import DigitsNet  # noqa: E402
from efficient_kan_reference import ReferenceKAN, train  # noqa: E402

OUT = ROOT / "assets" / "families" / "import_checks.json"
TRAIN_ROWS, CODEBOOK_SIZE, BITS, STEPS = 1200, 64, 8, 40


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels = load_digits(return_X_y=True)
    return torch.tensor(pixels / 8.0 - 1.0, dtype=torch.float32), torch.tensor(labels)


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest absolute difference over the largest absolute reference output."""
    return float((got.double() - want.double()).abs().max() / want.double().abs().max())


def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((outputs.argmax(1) == labels).float().mean())


def _package(name: str, folder: str) -> types.ModuleType:
    package = types.ModuleType(name)
    package.__path__ = [folder]
    return package


# Each check: (trained library model, the file it is saved as, load_model's options, the library's forward)
Check = tuple[nn.Module, Path, dict, Callable[[torch.Tensor], torch.Tensor]]


def efficient_kan(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    net = train(ReferenceKAN([64, 8, 10]), pixels, labels, steps=STEPS)
    torch.save(net.state_dict(), folder / "kan.pt")
    return net, folder / "kan.pt", {"base_activation": "silu"}, net


def kan_head(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    net = train(DigitsNet(ReferenceKAN([64, 8, 10])), pixels, labels, steps=STEPS)
    torch.save(net.state_dict(), folder / "net.pt")  # a CNN backbone's tensors beside the head's
    return net, folder / "net.pt", {"prefix": "head.", "base_activation": "silu"}, \
        lambda x: net.head(net.backbone(x.view(-1, 1, 8, 8)))


def pykan(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    import kan

    cwd = os.getcwd()
    os.chdir(folder)  # pykan writes beside the working directory
    try:
        net = kan.KAN(width=[64, 5, 10], grid=3, k=3, seed=0, auto_save=False)
        net.fit({"train_input": pixels, "train_label": labels, "test_input": pixels, "test_label": labels},
                steps=4, loss_fn=nn.CrossEntropyLoss())  # its default fit: LBFGS, grids adapted to the data
        net.saveckpt(str(folder / "fit"))
    finally:
        os.chdir(cwd)
    return net, folder / "fit", {}, net


def flashkan(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    import flashkan as library
    import flashkan.basis
    import flashkan.layer

    flashkan.layer.bspline_basis = flashkan.basis.bspline_basis_eager  # its eager basis: compilation is not the point
    net = train(library.KANNetwork([64, 8, 10], grid_size=5), pixels, labels, steps=STEPS)
    torch.save(net.state_dict(), folder / "flashkan.pt")
    # flashkan's float32 truncated-power basis cancels to about 1e-4; in float64 it is the exact B-spline
    return net, folder / "flashkan.pt", {"base_activation": "silu"}, lambda x: net.double()(x.double()).float()


def inkan(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    import inkan as library

    net = train(library.KANNetwork([64, 8, 10], grid_size=5, compile_basis=False), pixels, labels, steps=STEPS)
    torch.save(net.state_dict(), folder / "inkan.pt")
    return net, folder / "inkan.pt", {"base_activation": "silu"}, net


def kanx(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    root = importlib.util.find_spec("kanx").submodule_search_locations[0]
    # kanx's package __init__ imports its TensorFlow backend, which is not installed
    with mock.patch.dict(sys.modules, {"kanx": _package("kanx", root), "kanx.torch": _package("kanx.torch", f"{root}/torch")}):
        layers = importlib.import_module("kanx.torch.layers")
    net = nn.Sequential(layers.KANLinear(64, 8, grid_size=5), layers.KANLinear(8, 10, grid_size=5))
    train(net, pixels, labels, steps=STEPS)
    torch.save({"state_dict": net.state_dict(), "layers_spec": [64, 8, 10]}, folder / "kanx.pt")  # as KAN.save
    return net, folder / "kanx.pt", {"base_activation": "silu"}, net


def deep_kan(folder: Path, pixels: torch.Tensor, labels: torch.Tensor) -> Check:
    vision = types.ModuleType("torchvision")  # deep-kan imports torchvision for its MNIST example only
    vision.transforms = types.ModuleType("torchvision.transforms")
    with mock.patch.dict(sys.modules, {"torchvision": vision, "torchvision.transforms": vision.transforms}):
        library = importlib.import_module("deepkan")
    net = train(library.DeepKAN(64, [8, 10], num_knots=4, spline_order=2, grid_range=[-1.5, 1.5]), pixels, labels,
                steps=STEPS)
    torch.save(net.state_dict(), folder / "deep_kan.pt")
    return net, folder / "deep_kan.pt", {"base_activation": "silu", "grid": "4,2,-1.5,1.5"}, net


# family -> (its check, the package whose version it records (None: the tests' reference), save format, example)
FAMILIES = {
    "efficient-kan": (efficient_kan, None, "state dict (.pt, .safetensors, training checkpoint)",
                      "python -m sharekan_core compress kan.pt --base-activation silu -K 64 --out kan.skan"),
    "KAN head in a bigger model": (kan_head, None, "the whole model's state dict, or the live nn.Module",
                                   "python -m sharekan_core compress net.pt --prefix head. --base-activation silu -K 64 --out head.skan"),
    "pykan": (pykan, "pykan", "saveckpt (prefix_state + prefix_config.yml)",
              "python -m sharekan_core compress fit_state -K 64 --out fit.skan"),
    "flashkan": (flashkan, "flashkan", "KANNetwork state dict", "python -m sharekan_core compress flashkan.pt --base-activation silu -K 64 --out f.skan"),
    "inkan": (inkan, "inkan", "KANNetwork state dict", "python -m sharekan_core compress inkan.pt --base-activation silu -K 64 --out i.skan"),
    "kanx": (kanx, "kanx", "KAN.save checkpoint", "python -m sharekan_core compress kanx.pt --base-activation silu -K 64 --out x.skan"),
    "deep-kan": (deep_kan, "deep-kan", "DeepKAN state dict (knots not saved: --grid)",
                 "python -m sharekan_core compress deep_kan.pt --base-activation silu --grid 4,2,-1.5,1.5 -K 64 --out d.skan"),
}


def measure(name: str, pixels: torch.Tensor, labels: torch.Tensor) -> dict:
    """One family's row: import error against the library's forward, and accuracy dense and compressed."""
    check, package, save_format, example = FAMILIES[name]
    train_x, train_y, held_x, held_y = pixels[:TRAIN_ROWS], labels[:TRAIN_ROWS], pixels[TRAIN_ROWS:], labels[TRAIN_ROWS:]
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="import-check-") as folder:
        net, path, options, library_forward = check(Path(folder), train_x, train_y)
        loaded = sk.load_model(path, **options)
    kan_inputs = (lambda x: net.backbone(x.view(-1, 1, 8, 8))) if name == "KAN head in a bigger model" else (lambda x: x)
    with torch.no_grad():
        want = library_forward(held_x)
        calibration = kan_inputs(train_x).numpy()
        compressed = sk.compress(loaded, sk.CompressionConfig(codebook_size=CODEBOOK_SIZE, bits=BITS), calibration)
        got = loaded(kan_inputs(held_x))
        compressed_outputs = sk.CompressedDomainKAN(compressed)(kan_inputs(held_x))
    return {"family": name, "version": importlib.metadata.version(package) if package else "reference in tests/",
            "save_format": save_format, "example": example, "import_rel_error": relative_error(got, want),
            "dense_accuracy": accuracy(want, held_y), "compressed_accuracy": accuracy(compressed_outputs, held_y)}


def main() -> None:
    pixels, labels = digits()
    rows = []
    for name in FAMILIES:
        rows.append(measure(name, pixels, labels))
        print(json.dumps(rows[-1]), flush=True)
    document = {"what": "each family trained on digits, imported, held to its library's forward and compressed",
                "train_rows": TRAIN_ROWS, "held_out_rows": len(pixels) - TRAIN_ROWS, "codebook_size": CODEBOOK_SIZE,
                "bits": BITS, "training_steps": STEPS, "families": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    temporary = OUT.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n")
    temporary.replace(OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
