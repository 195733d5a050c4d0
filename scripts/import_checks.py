"""Measure each supported KAN family's import and compression on digits; write assets/families/import_checks.json.

For every family: a model of that library trained on the first 1,200 of scikit-learn's digits (pixels in [-1, 1]),
saved in the library's usual format, read with ``sk.load_model`` as a user would (with the options the row's example
states), held to the library's own forward on the 597 held-out digits (import error: largest |difference| over the
largest |output|), then compressed with SHARe-KAN (K = 64, Int8, calibrated on the training digits) and run in the
compressed domain. efficient-kan is GitHub-only, so its model is the reference layer
in tests/efficient_kan_reference.py (written from its published math), which this script imports, and the KAN head
sits on the tests' small CNN (tests/digits_net.py). convkan's net is two ConvKAN layers and a linear classifier; each
layer's patch KAN is read from the saved file with its prefix and run on unfolded patches. FastKAN, ChebyKAN and
torch-conv-kan's Gram/KAGN (GitHub-only: the reference layers in tests/other_basis_reference.py) are saved as their
nets' state dicts (ChebyKAN's with a LayerNorm between its layers, stated with between='layernorm'), read with
sk.load_model, compressed with sk.compress, written with sk.save_compressed and run from that file with
sk.load_runnable; so is 1ssb/torchkan's KAN (GitHub-only: tests/torchkan_reference.py), its LayerNorm and PReLU
after each layer kept dense.
Each row says which path it took ("file" or "in-place only"). The table in the README is generated from the JSON
(scripts/doctables/families.py).

Usage: python scripts/import_checks.py [FAMILY ...]   (all of them: several minutes on two cores; needs requirements-dev
       and -nodeps. Naming families re-measures only those and keeps the saved rows of the others.)
"""
from __future__ import annotations

import copy
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
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package, and the tests' reference layers

import sharekan_core as sk  # noqa: E402
from convkan_digits_net import GEOMETRIES, DigitsConvKAN  # noqa: E402
from digits_net import DigitsNet, digits_tensors, relative_error  # noqa: E402
from efficient_kan_reference import ReferenceKAN, train  # noqa: E402
from other_basis_reference import ChebyKANLayer, FastKANLayer, GramLayer, LayerList  # noqa: E402
from sharekan_core.model.conv_kan import ConvKAN2d  # noqa: E402
from torchkan_reference import TorchKAN  # noqa: E402

OUT = ROOT / "assets" / "families" / "import_checks.json"
TRAIN_ROWS, CODEBOOK_SIZE, BITS, STEPS = 1200, 64, 8, 40


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return digits_tensors(None)



def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((outputs.argmax(1) == labels).float().mean())


def _package(name: str, folder: str) -> types.ModuleType:
    package = types.ModuleType(name)
    package.__path__ = [folder]
    return package


# Each check: (trained library model, the file it is saved as, load_model's options, the library's forward)
Check = tuple[nn.Module, Path, dict, Callable[[torch.Tensor], torch.Tensor]]
# What every family's measurement returns on the held-out digits: (library's outputs, imported model's outputs,
# compressed model's outputs, the file importer's refusal for an in-place-only family or None)
Outputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, str | None]
CONFIG = sk.CompressionConfig(codebook_size=CODEBOOK_SIZE, bits=BITS)


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


def from_file(check: Callable[[Path, torch.Tensor, torch.Tensor], Check]) -> Callable[..., Outputs]:
    """A one-KAN family's measurement: its file read with load_model, compressed with sk.compress and run."""

    def outputs(folder: Path, train_x: torch.Tensor, train_y: torch.Tensor, held_x: torch.Tensor) -> Outputs:
        net, path, options, library_forward = check(folder, train_x, train_y)
        loaded = sk.load_model(path, **options)
        kan_inputs = (lambda x: net.backbone(x.view(-1, 1, 8, 8))) if check is kan_head else (lambda x: x)
        with torch.no_grad():
            compressed = sk.compress(loaded, CONFIG, kan_inputs(train_x).numpy())
            return (library_forward(held_x), loaded(kan_inputs(held_x)),
                    sk.CompressedDomainKAN(compressed)(kan_inputs(held_x)), None)

    return outputs


def convkan(folder: Path, train_x: torch.Tensor, train_y: torch.Tensor, held_x: torch.Tensor) -> Outputs:
    """Each ConvKAN's patch KAN read from the saved net with its prefix, run by ConvKAN2d on unfolded patches, and
    compressed calibrated on its own training patches; the library's classifier runs on top of them."""
    net = train(DigitsConvKAN(), train_x, train_y, steps=STEPS).eval()
    torch.save(net.state_dict(), folder / "net.pt")
    imported, compressed = copy.deepcopy(net), copy.deepcopy(net)
    with torch.no_grad():
        inputs = train_x.view(-1, 1, 8, 8)
        for name, (geometry, out_channels) in GEOMETRIES.items():
            patch_kan = sk.load_model(folder / "net.pt", prefix=f"{name}.kan_layer.", base_activation="silu")
            layer = ConvKAN2d(patch_kan, geometry, out_channels).eval()
            coded = sk.compress(patch_kan, CONFIG, layer.patches(inputs).numpy())
            setattr(imported, name, layer)
            setattr(compressed, name, ConvKAN2d(sk.CompressedDomainKAN(coded), geometry, out_channels))
            inputs = torch.tanh(getattr(net, name)(inputs))  # the library's own activations feed the next layer
        return net(held_x), imported(held_x), compressed(held_x), None


def basis_family(build: Callable[[], nn.Module], options: dict) -> Callable[..., Outputs]:
    """A [64, 8, 10] net of one global-basis family saved as its state dict, read with load_model (``options``:
    what the state dict does not record), compressed, saved and run from the compressed file."""

    def outputs(folder: Path, train_x: torch.Tensor, train_y: torch.Tensor, held_x: torch.Tensor) -> Outputs:
        net = train(build(), train_x, train_y, steps=STEPS).eval()
        torch.save(net.state_dict(), folder / "net.pt")
        loaded = sk.load_model(folder / "net.pt", **options)
        sk.save_compressed(sk.compress(loaded, CONFIG, train_x.numpy()), folder / "net.skan")
        with torch.no_grad():
            return net(held_x), loaded(held_x), sk.load_runnable(folder / "net.skan").module(held_x), None

    return outputs


FILE = "file"  # every family reads from its file now (the table also takes "in-place only" rows)
# family -> (its measurement, the package whose version it records (None: the tests' reference), path, save format,
# example: a command line for the file path, a Python call for in-place only)
FAMILIES = {
    "efficient-kan": (from_file(efficient_kan), None, FILE, "state dict (.pt, .safetensors, training checkpoint)",
                      "python -m sharekan_core compress kan.pt --base-activation silu -K 64 --out kan.skan"),
    "KAN head in a bigger model": (from_file(kan_head), None, FILE, "the whole model's state dict, or the live nn.Module",
                                   "python -m sharekan_core compress net.pt --prefix head. --base-activation silu -K 64 --out head.skan"),
    "pykan": (from_file(pykan), "pykan", FILE, "saveckpt (prefix_state + prefix_config.yml)",
              "python -m sharekan_core compress fit_state -K 64 --out fit.skan"),
    "flashkan": (from_file(flashkan), "flashkan", FILE, "KANNetwork state dict",
                 "python -m sharekan_core compress flashkan.pt --base-activation silu -K 64 --out f.skan"),
    "inkan": (from_file(inkan), "inkan", FILE, "KANNetwork state dict",
              "python -m sharekan_core compress inkan.pt --base-activation silu -K 64 --out i.skan"),
    "kanx": (from_file(kanx), "kanx", FILE, "KAN.save checkpoint",
             "python -m sharekan_core compress kanx.pt --base-activation silu -K 64 --out x.skan"),
    "deep-kan": (from_file(deep_kan), "deep-kan", FILE, "DeepKAN state dict (knots not saved: --grid)",
                 "python -m sharekan_core compress deep_kan.pt --base-activation silu --grid 4,2,-1.5,1.5 -K 64 --out d.skan"),
    "convkan ConvKAN": (convkan, "convkan", FILE, "the net's state dict, one ConvKAN per --prefix (geometry: --conv)",
                        "python -m sharekan_core compress net.pt --prefix conv2.kan_layer. --base-activation silu "
                        "--conv 4,3,2,1,1,reflect -K 64 --out conv2.skan"),
    "FastKAN": (basis_family(lambda: LayerList([FastKANLayer(64, 8), FastKANLayer(8, 10)]), {"base_activation": "silu"}),
                None, FILE, "FastKAN net state dict (layers.N.)",
                "python -m sharekan_core compress fastkan.pt --base-activation silu -K 64 --out f.skan"),
    "ChebyKAN": (basis_family(lambda: nn.Sequential(ChebyKANLayer(64, 8), nn.LayerNorm(8), ChebyKANLayer(8, 10)),
                              {"between": "layernorm"}),
                 None, FILE, "nn.Sequential state dict, LayerNorm between layers (--between)",
                 "python -m sharekan_core compress chebykan.pt --between layernorm -K 64 --out c.skan"),
    "Gram/KAGN": (basis_family(lambda: LayerList([GramLayer(64, 8), GramLayer(8, 10)]), {"base_activation": "silu"}),
                  None, FILE, "KAGN net state dict (layers.N.)",
                  "python -m sharekan_core compress kagn.pt --base-activation silu -K 64 --out g.skan"),
    "torchkan": (basis_family(lambda: TorchKAN([64, 8, 10], base_activation=nn.SiLU), {"base_activation": "silu"}),
                 None, FILE, "KAN state dict (base_weights.N, layer_norms.N, prelus.N)",
                 "python -m sharekan_core compress torchkan.pt --base-activation silu -K 64 --out t.skan"),
}


def measure(name: str, pixels: torch.Tensor, labels: torch.Tensor) -> dict:
    """One family's row: its path, import error against the library's forward, and accuracy dense and compressed."""
    outputs, package, path, save_format, example = FAMILIES[name]
    train_x, train_y, held_x, held_y = pixels[:TRAIN_ROWS], labels[:TRAIN_ROWS], pixels[TRAIN_ROWS:], labels[TRAIN_ROWS:]
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="import-check-") as folder:
        want, got, compressed_outputs, refused = outputs(Path(folder), train_x, train_y, held_x)
    row = {"family": name, "version": importlib.metadata.version(package) if package else "reference in tests/",
           "path": path, "save_format": save_format, "example": example, "import_rel_error": relative_error(got, want),
           "dense_accuracy": accuracy(want, held_y), "compressed_accuracy": accuracy(compressed_outputs, held_y)}
    if refused is not None:
        row["file_refusal"] = refused
    return row


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        print(f"error: unknown families {unknown}; choose from {list(FAMILIES)}", file=sys.stderr)
        sys.exit(2)
    saved = {row["family"]: row for row in json.loads(OUT.read_text())["families"]} if names and OUT.exists() else {}
    missing = [name for name in FAMILIES if name not in names and name not in saved]
    if names and missing:
        print(f"error: {OUT.name} has no saved rows for {missing}; measure them too (or run without names)", file=sys.stderr)
        sys.exit(2)
    pixels, labels = digits()
    rows = []
    for name in FAMILIES:
        if names and name not in names:
            row = dict(saved[name])  # its measurements kept; its path is this script's, not a measurement
            rows.append({key: row[key] for key in ("family", "version")} | {"path": FAMILIES[name][2]} | row)
            continue
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
    main(sys.argv[1:])
