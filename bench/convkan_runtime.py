"""ConvKAN runtime benchmark: a convkan 0.0.1.2 image model, dense against its compressed-domain unfold runtime.
(Named convkan_runtime.py: a bench/convkan.py would shadow the convkan library it imports.)

The model is real: two ConvKAN layers (1 -> 32 channels, 3x3, padding 1; 32 -> 32, 3x3, stride 2, reflect
padding) and a linear classifier, trained here on scikit-learn's digits (8x8) with Adam on mini-batches. Each
ConvKAN's patch KAN (288 edges, then 9,216) is imported from the saved state dict by prefix, and compressed with
SHARe-KAN (Int8, each K given, calibrated on its own training patches). Every form runs the whole net on the same
images, interleaved round by round (sharekan_core.timing):

    convkan eager               the library's own net (its KANLinear rescales the spline weights every call)
    dense pre-scaled on unfold  ConvKAN2d over the imported patch KAN with its spline weights scaled once: the
                                strongest eager dense form, the denominator of every ``speedup``
    compressed K=...            ConvKAN2d over CompressedDomainKAN (the fused numba kernels straight from the codes)

A batch of N images is N * 64 patch rows for the first layer and N * 16 for the second. Medians and quartiles in
ms; ratios are dense median / compressed median, above 1 when compressed is faster. The load average is recorded
before and after each thread count (bench/runtime.py's ``busy`` rule).

    python bench/convkan_runtime.py --codebook-sizes 64,256 --batches 1,64 --threads 1,2 \
        --json assets/runtime/convkan_digits_c32.json
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
from pathlib import Path

import numba
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dense_baselines import PreScaledKAN
from runtime import QUIET_LOAD, busy, host_info, relative_error

import sharekan_core as sk
from sharekan_core.format.accounting import storage_report
from sharekan_core.io import write_bytes_atomic
from sharekan_core.model.conv_kan import ConvGeometry, ConvKAN2d
from sharekan_core.tasks import load_digits_split
from sharekan_core.timing import interleaved

CHANNELS, GRID_SIZE = 32, 5
# conv1: 1 -> 32 channels, 3x3, padding 1; conv2: 32 -> 32, 3x3, stride 2, reflect padding; as convkan builds them
GEOMETRIES = {"conv1": ConvGeometry(1, 3, padding=1),
              "conv2": ConvGeometry(CHANNELS, 3, stride=2, padding=1, padding_mode="reflect")}
CONVKAN_EAGER, PRE_SCALED = "convkan eager", "dense pre-scaled on unfold"


class DigitsConvKAN32(nn.Module):
    """Two convkan ConvKANs of 32 channels and a linear classifier on 8x8 digits."""

    def __init__(self):
        super().__init__()
        import convkan

        self.conv1 = convkan.ConvKAN(1, CHANNELS, 3, padding=1, grid_size=GRID_SIZE)
        self.conv2 = convkan.ConvKAN(CHANNELS, CHANNELS, 3, stride=2, padding=1, padding_mode="reflect",
                                     grid_size=GRID_SIZE)
        self.classify = nn.Sequential(nn.Flatten(), nn.Linear(CHANNELS * 16, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.conv2(torch.tanh(self.conv1(images))))


def trained_net(images: torch.Tensor, labels: torch.Tensor, steps: int, seed: int = 0) -> DigitsConvKAN32:
    """The net after ``steps`` Adam steps on mini-batches of 128 training digits."""
    torch.manual_seed(seed)
    net = DigitsConvKAN32()
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01)
    order = torch.randperm(len(images))
    for step in range(steps):
        rows = order[(step * 128) % len(images):][:128]
        optimiser.zero_grad()
        F.cross_entropy(net(images[rows]), labels[rows]).backward()
        optimiser.step()
    return net.eval()


def patch_kans(net: DigitsConvKAN32, folder: Path) -> dict[str, sk.KAN]:
    """Each ConvKAN's patch KAN read from the net's saved state dict by prefix, as a user would."""
    torch.save(net.state_dict(), folder / "net.pt")
    return {name: sk.load_model(folder / "net.pt", prefix=f"{name}.kan_layer.", base_activation="silu").eval()
            for name in GEOMETRIES}


def swapped(net: DigitsConvKAN32, layers: dict[str, nn.Module]) -> DigitsConvKAN32:
    """A copy of ``net`` with each ConvKAN replaced by ConvKAN2d over the given patch module."""
    copied = copy.deepcopy(net)
    for name, module in layers.items():
        setattr(copied, name, ConvKAN2d(module, GEOMETRIES[name], CHANNELS).eval())
    return copied


def compressed_layers(net: DigitsConvKAN32, kans: dict, calibration: torch.Tensor, codebook_size: int,
                      bits: int) -> dict[str, sk.CompressedKAN]:
    """Each patch KAN compressed at K = ``codebook_size``, calibrated on its own patches of the training images
    (the library's own activations feed the second layer)."""
    result, images = {}, calibration
    with torch.no_grad():
        for name, kan in kans.items():
            patches = ConvKAN2d(kan, GEOMETRIES[name], CHANNELS).patches(images)
            config = sk.CompressionConfig(codebook_size=codebook_size, bits=bits)
            result[name] = sk.compress(kan, config, patches.numpy())
            images = torch.tanh(getattr(net, name)(images))
    return result


def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(images).argmax(1) == labels).float().mean())


def run(args: argparse.Namespace) -> dict:
    """Train, import, compress, time every form at every thread count and batch; return the JSON document."""
    split = load_digits_split()
    train_x = torch.from_numpy(split.x_train).view(-1, 1, 8, 8)
    train_y = torch.from_numpy(split.y_train).long()
    test_x = torch.from_numpy(split.x_test).view(-1, 1, 8, 8)
    test_y = torch.from_numpy(split.y_test).long()
    net = trained_net(train_x, train_y, args.steps)
    with tempfile.TemporaryDirectory() as folder:
        kans = patch_kans(net, Path(folder))
    forms = {CONVKAN_EAGER: net, PRE_SCALED: swapped(net, {name: PreScaledKAN(kan) for name, kan in kans.items()})}
    imported = swapped(net, kans)
    with torch.no_grad():
        import_error = relative_error(imported(test_x).numpy(), net(test_x).numpy())
    document = {
        "model": "digits_c32", "what": "convkan 0.0.1.2 net on digits: ConvKAN(1, 32, 3, padding=1), tanh, "
        "ConvKAN(32, 32, 3, stride=2, padding=1, padding_mode='reflect'), Linear(512, 10); grid 5, order 3",
        "layers": {name: {"geometry": GEOMETRIES[name].as_dict(), "edges": kan.num_edges,
                          "patch_widths": [kan.layers[0].in_features, kan.layers[0].out_features]}
                   for name, kan in kans.items()},
        "training": f"{args.steps} Adam steps (lr 0.01) on mini-batches of 128 of the {len(train_x):,} training digits",
        "import_rel_error": import_error, "bits": args.bits,
        "dense_accuracy": accuracy(net, test_x, test_y), "held_out": len(test_y),
        "baselines": {"speedup": PRE_SCALED, "speedup_vs_convkan": CONVKAN_EAGER},
        "timing": f"interleaved rounds in one process, {args.seconds:g} s budget per batch, median and quartiles",
        "codebooks": {}, "threads": {},
    }
    for size in args.codebook_sizes:
        coded = compressed_layers(net, kans, train_x[:args.calibration_images], size, args.bits)
        name = f"compressed K={size}"
        forms[name] = swapped(net, {layer: sk.CompressedDomainKAN(c) for layer, c in coded.items()})
        reference = swapped(net, {layer: sk.decompress(c) for layer, c in coded.items()})
        storage = {layer: storage_report(kans[layer], c) for layer, c in coded.items()}
        with torch.no_grad():
            runtime_error = relative_error(forms[name](test_x).numpy(), reference(test_x).numpy())
        document["codebooks"][str(size)] = {
            "form": name, "accuracy": accuracy(forms[name], test_x, test_y),
            "compressed_vs_decompressed_rel_error": runtime_error,
            "dense_bytes": sum(s.dense_bytes for s in storage.values()),
            "compressed_bytes": sum(s.compressed_bytes for s in storage.values()),
            "by_layer": {layer: {"dense_bytes": s.dense_bytes, "compressed_bytes": s.compressed_bytes,
                                 "ratio": s.ratio} for layer, s in storage.items()}}
        print(f"K = {size}: accuracy {document['dense_accuracy']:.3f} -> {document['codebooks'][str(size)]['accuracy']:.3f}, "
              f"{document['codebooks'][str(size)]['dense_bytes']:,} -> "
              f"{document['codebooks'][str(size)]['compressed_bytes']:,} B, rel. error {runtime_error:.1e}")
    for threads in args.threads:
        document["threads"][str(threads)] = timed_batches(forms, test_x, threads, args)
    return document


def timed_batches(forms: dict, images: torch.Tensor, threads: int, args: argparse.Namespace) -> dict:
    """At ``threads`` threads: every form's timings per batch, and each compressed form's ratios."""
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    result = {"host": host_info(threads), "batches": {}}
    with torch.no_grad():
        for batch in args.batches:
            x = images[:batch].contiguous()
            cells = {name: timed.summary() for name, timed in interleaved(
                {name: (lambda net=net: net(x)) for name, net in forms.items()}, 7, args.seconds, 2000).items()}
            dense, library = cells[PRE_SCALED]["median_ms"], cells[CONVKAN_EAGER]["median_ms"]
            result["batches"][str(batch)] = {
                "patch_rows": [batch * 64, batch * 16], "forms": cells,
                "speedup": {name: dense / cell["median_ms"] for name, cell in cells.items() if name.startswith("compressed")},
                "speedup_vs_convkan": {name: library / cell["median_ms"] for name, cell in cells.items()
                                       if name.startswith("compressed")}}
            print(f"{threads} thread(s), batch {batch}:")
            for name, cell in cells.items():
                print(f"  {name:<28} {cell['median_ms']:8.3f} ms  [{cell['q1_ms']:.3f}-{cell['q3_ms']:.3f}]  "
                      f"{dense / cell['median_ms']:5.2f}x the pre-scaled dense speed  ({cell['calls']} calls)")
    host = result["host"]
    host["load_average_after"] = list(os.getloadavg())
    host["busy"] = busy(host["load_average"][0], host["load_average_after"][0], threads)
    if host["busy"]:
        print(f"machine busy at {threads} thread(s): 1-minute load average {host['load_average'][0]:.2f} before, "
              f"{host['load_average_after'][0]:.2f} after (quiet is below {QUIET_LOAD + threads - 1:g})")
    return result


def main() -> None:
    """Parse arguments, run, print and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    numbers = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    parser.add_argument("--codebook-sizes", type=numbers, default=[64, 256])
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--batches", type=numbers, default=[1, 64])
    parser.add_argument("--threads", type=numbers, default=[1, 2])
    parser.add_argument("--steps", type=int, default=150, help="training steps (default 150)")
    parser.add_argument("--calibration-images", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=6.0, help="time budget per batch (default 6)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    document = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(args.json, json.dumps(document, indent=1).encode())


if __name__ == "__main__":
    main()
