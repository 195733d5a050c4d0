"""Runtime benchmark: dense vs compressed-domain head, eager vs ExecuTorch .pte, batch 1 / 16 / 256.

Each (form, batch) is timed in its own process (the machine's cores are shared), and the
table prints median latency, the ratio against dense eager, and .pte sizes. Uses the shipped
detection head when sample_models/ssd_mobilenet_v2/kan_head.safetensors exists, else a
synthetic stand-in of the same shape, labelled as such.

    python bench/runtime.py [--codebook-size 256] [--bits 8] [--batches 1 16 256] [--no-xnnpack]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharekan_core.compress import (CompressedKAN, CompressedLayer, CompressionConfig,  # noqa: E402
                                    compress, decompress, quantize)
from sharekan_core.detection.kan_head import head_config  # noqa: E402
from sharekan_core.detection.weights import DETECTOR_DIR, HEAD_FILE  # noqa: E402
from sharekan_core.format import save_compressed  # noqa: E402
from sharekan_core.io import read_model, save_model  # noqa: E402
from sharekan_core.model import uniform_grid  # noqa: E402

FORMS = ("dense eager", "compressed eager", "dense .pte", "compressed .pte")
TIME_BUDGET_S = 3.0


def synthetic_compressed(widths: tuple[int, ...], codebook_size: int, bits: int, seed: int = 0) -> CompressedKAN:
    """A compressed head of the given widths with random codebook, indices, gains and biases (a stand-in)."""
    rng = np.random.default_rng(seed)
    codebooks, layers = [], []
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        codebooks.append(quantize(rng.normal(size=(codebook_size, 13)) / 3, bits))
        shape = (fan_out, fan_in)
        layers.append(CompressedLayer(
            uniform_grid(fan_in, 10, 3).numpy(), 3, index, rng.integers(0, codebook_size, shape),
            quantize(rng.uniform(0, 1, shape) / fan_in ** 0.5, bits), quantize(rng.normal(size=shape) * 0.01, bits),
            quantize(rng.normal(size=shape) / fan_in ** 0.5, bits), np.ones(fan_out, np.float32),
            np.zeros(fan_out, np.float32)))
    return CompressedKAN(codebooks, layers, CompressionConfig(codebook_size=codebook_size, bits=bits))


def prepare(folder: Path, codebook_size: int, bits: int) -> tuple[str, Path, Path]:
    """Write the dense head and its compressed file to ``folder``; return (label, dense path, compressed path)."""
    shipped = DETECTOR_DIR / HEAD_FILE
    if shipped.is_file():
        model = read_model(shipped).model
        compressed = compress(model, CompressionConfig(codebook_size=codebook_size, bits=bits))
        label = f"shipped detection head {shipped.name}"
    else:
        compressed = synthetic_compressed(head_config().widths, codebook_size, bits)
        model = decompress(compressed)
        label = f"SYNTHETIC stand-in of the detection head {head_config().widths} (no trained head shipped yet)"
    save_model(model, folder / "dense.safetensors")
    save_compressed(compressed, folder / "compressed.skan")
    return label, folder / "dense.safetensors", folder / "compressed.skan"


def worker(form: str, path: Path, batch: int) -> dict:
    """Load one form and time it at one batch size; runs in its own process."""
    torch.set_num_threads(1)
    if form.endswith(".pte"):
        from sharekan_core.runtime.executorch_export import load_pte

        run = load_pte(path)
        features = run.in_features
    else:
        from sharekan_core.runtime import load_runnable

        runnable = load_runnable(path)
        run, features = runnable.module, runnable.in_features
    x = torch.rand(batch, features) * 2 - 1
    times = []
    with torch.no_grad():
        run(x)
        start = time.perf_counter()
        while len(times) < 5 or (time.perf_counter() - start < TIME_BUDGET_S and len(times) < 200):
            tick = time.perf_counter()
            run(x)
            times.append(time.perf_counter() - tick)
    return {"median_ms": statistics.median(times) * 1e3, "calls": len(times)}


def timed_in_child(form: str, path: Path, batch: int) -> dict:
    """Run ``worker`` in a fresh interpreter and return its JSON."""
    run = subprocess.run([sys.executable, __file__, "--worker", form, str(path), str(batch)],
                         capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        return {"median_ms": float("nan"), "error": run.stderr.strip().splitlines()[-1:]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    """Prepare, export, time every (form, batch) in its own process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codebook-size", type=int, default=256)
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 256])
    parser.add_argument("--no-xnnpack", action="store_true")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        form, path, batch = args.worker
        print(json.dumps(worker(form, Path(path), int(batch))))
        return
    from sharekan_core.runtime import load_runnable
    from sharekan_core.runtime.cache_model import residency_report
    from sharekan_core.runtime.executorch_export import export_pte
    from sharekan_core.format import load_compressed

    folder = Path(tempfile.mkdtemp(prefix="sharekan_bench_"))
    label, dense_path, compressed_path = prepare(folder, args.codebook_size, args.bits)
    print(f"model: {label}\ncodebook K={args.codebook_size}, {args.bits}-bit, xnnpack={not args.no_xnnpack}, "
          f"1 thread per process, time budget {TIME_BUDGET_S:.0f} s per cell\n")
    head = residency_report(load_compressed(compressed_path))["head"]
    print(f"working set: dense {head['dense_bytes'] / 1e6:.2f} MB ({head['dense_fits']}), compressed codebooks "
          f"{head['codebook_float_bytes'] / 1e3:.1f} kB ({head['codebook_float_fits']}) + streamed "
          f"{head['streamed_bytes'] / 1e6:.2f} MB ({head['streamed_fits']})\n")
    sources = {"dense": dense_path, "compressed": compressed_path}
    rows, sizes = [], {}
    for batch in args.batches:
        for kind, source in sources.items():
            runnable = load_runnable(source)
            pte = folder / f"{kind}_b{batch}.pte"
            sizes[(kind, batch)] = export_pte(runnable.module, runnable.in_features, pte, batch, not args.no_xnnpack)
        cells = {f"{kind} eager": timed_in_child(f"{kind} eager", path, batch) for kind, path in sources.items()}
        cells.update({f"{kind} .pte": timed_in_child(f"{kind} .pte", folder / f"{kind}_b{batch}.pte", batch)
                      for kind in sources})
        rows.append((batch, cells))
    print(f"{'batch':>5}  " + "  ".join(f"{f:>17}" for f in FORMS) + "   (median ms; x = dense eager / form)")
    for batch, cells in rows:
        base = cells["dense eager"]["median_ms"]
        print(f"{batch:>5}  " + "  ".join(f"{cells[f]['median_ms']:9.2f} ({base / cells[f]['median_ms']:4.2f}x)"
                                         for f in FORMS))
    print("\n.pte sizes (bytes):")
    for batch in args.batches:
        dense, comp = sizes[("dense", batch)], sizes[("compressed", batch)]
        print(f"  batch {batch:>3}: dense {dense:>11,}  compressed {comp:>10,}  ratio {dense / comp:5.2f}x")


if __name__ == "__main__":
    main()
