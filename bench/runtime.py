"""Runtime benchmark: the fused compressed-domain kernel against named dense baselines, in one process.

The dense model at --model is compressed inside with --codebook-size and --bits, written to a
compressed file and read back. Then every form runs on the same inputs, interleaved round by
round (each round calls every form once) until the time budget per batch is spent:

    efficient-kan eager         KAN.forward, which rescales the spline weights every call
    dense pre-scaled eager      spline weights scaled once: the strongest eager dense forward (the
                                denominator of ``speedup``)
    dense local-support kernel  the dense head through the same tables and loop order (numba)
    compressed fused kernel     sharekan_core.runtime.fused_kernel, straight from the stored codes, by the
                                route ``routes.fused_route`` picks for the batch (recorded as ``route``)
    compressed torch path       CompressedDomainKAN(backend='torch'), the pure-torch fallback

Medians and interquartile ranges in ms; ratios are baseline median / compressed median. The load
average is recorded before and after; at or above QUIET_LOAD (plus the run's threads beyond the
first) the output says the machine was busy (``host.busy``): its timings are not quiet-machine figures.

    python bench/runtime.py --model PATH --codebook-size 4096 --bits 8 --batches 1,16,256 \
        --threads 1 --json assets/runtime/NAME.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import torch


from dense_baselines import DenseKernelKAN, PreScaledKAN

from sharekan_core.compression import CompressionConfig, compress, decompress
from sharekan_core.detection.weights import HEAD_FILE
from sharekan_core.format import load_compressed, save_compressed
from sharekan_core.format.accounting import storage_report
from sharekan_core.io import read_model, write_bytes_atomic
from sharekan_core.fidelity.report import fidelity_report
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.costs.cache_residency import host_caches
from sharekan_core.runtime.fused_kernel import FusedKAN
from sharekan_core.runtime.routes import fused_route
from sharekan_core.costs.memory_traffic import compressed_report, dense_report, shapes_of
from sharekan_core.paths import settings
from sharekan_core.timing import interleaved

DETECTOR_DIR = settings().detector_dir  # the shipped detector (SHAREKAN_MODELS_DIR moves it)

QUIET_LOAD = 1.5  # 1-minute load average, beyond the run's own threads, below which the machine counts as quiet
EFFICIENT_KAN, PRE_SCALED, DENSE_KERNEL = "efficient-kan eager", "dense pre-scaled eager", "dense local-support kernel"
FUSED, TORCH_PATH = "compressed fused kernel", "compressed torch path"


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference over the largest absolute expected value."""
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def forms(model, compressed, with_torch_path: bool) -> dict:
    """Callables (x as numpy (B, in) float32) for every form, by name."""
    pre_scaled, dense_kernel = PreScaledKAN(model), DenseKernelKAN(model)
    fused = FusedKAN.from_compressed(compressed)
    table = {
        EFFICIENT_KAN: lambda x: model(torch.from_numpy(x)),
        PRE_SCALED: lambda x: pre_scaled(torch.from_numpy(x)),
        DENSE_KERNEL: dense_kernel,
        FUSED: fused,
    }
    if with_torch_path:
        torch_path = CompressedDomainKAN(compressed, backend="torch")
        table[TORCH_PATH] = lambda x: torch_path(torch.from_numpy(x))
    return table


def time_interleaved(table: dict, x: np.ndarray, budget_s: float, min_rounds: int = 7,
                     max_rounds: int = 400) -> dict:
    """Per form: median, quartiles and calls (sharekan_core.timing), from rounds that call every form once in turn."""
    forms = {name: (lambda run=run: run(x)) for name, run in table.items()}
    return {name: timed.summary() for name, timed in interleaved(forms, min_rounds, budget_s, max_rounds).items()}


def host_info(threads: int) -> dict:
    """CPU, caches, load and thread settings of this run."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "caches": host_caches(), "threads": threads,
            "numba": numba.__version__, "numba_threading_layer": numba.threading_layer(),
            "torch": torch.__version__, "load_average": list(os.getloadavg())}


def bytes_touched(model, compressed, batch: int) -> dict:
    """Bytes one call touches per form, from the working-set model, and the per-edge stream bytes."""
    caches = host_caches()
    shapes = shapes_of(model)
    edges = sum(s.edges for s in shapes)
    result = {}
    for name, items in ((EFFICIENT_KAN, dense_report(shapes, batch, caches, "efficient-kan")),
                        (PRE_SCALED, dense_report(shapes, batch, caches)),
                        (DENSE_KERNEL, dense_report(shapes, batch, caches)),
                        (FUSED, compressed_report(compressed, batch, caches))):
        stream = sum(t.nbytes for t in items if t.working_set == "stream")
        result[name] = {"total_bytes": sum(t.nbytes for t in items), "stream_bytes": stream,
                        "stream_bytes_per_edge": stream / edges}
    return result


def compressed_head(model, args: argparse.Namespace) -> tuple:
    """(compressed read back from its file, seconds to compress, file bytes); reuses --reuse-dir files."""
    config = CompressionConfig(codebook_size=args.codebook_size, bits=args.bits)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.reuse_dir or folder) / f"{args.model.stem}_K{args.codebook_size}_int{args.bits}.skan"
        compress_s = None
        if not path.is_file():
            tick = time.perf_counter()
            compressed = compress(model, config)
            compress_s = time.perf_counter() - tick
            save_compressed(compressed, path)
        return load_compressed(path), compress_s, path.stat().st_size


def run(args: argparse.Namespace) -> dict:
    """Compress, check, time every batch; return the JSON document."""
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    loaded = read_model(args.model)
    model = loaded.model.eval()
    compressed, compress_s, file_bytes = compressed_head(model, args)
    storage = storage_report(model, compressed)
    fidelity = fidelity_report(model, decompress(compressed))
    document = {
        "model": str(args.model), "widths": [model.layers[0].in_features, *(l.out_features for l in model.layers)],
        "edges": model.num_edges, "codebook_size": args.codebook_size, "bits": args.bits,
        "host": host_info(args.threads), "compress_s": compress_s,
        "storage": {"dense_bytes": storage.dense_bytes, "compressed_bytes": storage.compressed_bytes,
                    "file_bytes": file_bytes, "ratio": storage.ratio, "by_component": storage.by_component(),
                    "fused_resident_bytes": FusedKAN.from_compressed(compressed).nbytes},
        "coef_rel_l2": fidelity.coef_rel_l2,
        "baselines": {"speedup": PRE_SCALED, "speedup_vs_dense_kernel": DENSE_KERNEL,
                      "speedup_vs_efficient_kan": EFFICIENT_KAN},
        "timing": f"interleaved rounds in one process, {args.seconds:g} s budget per batch, median and IQR",
        "batches": {},
    }
    table = forms(model, compressed, not args.no_torch_path)
    reference = decompress(compressed).eval()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for batch in args.batches:
            x = rng.uniform(-1.2, 1.2, size=(batch, document["widths"][0])).astype(np.float32)
            expected = reference(torch.from_numpy(x)).numpy()
            dense_expected = model(torch.from_numpy(x)).numpy()
            cells = time_interleaved(table, x, args.seconds)
            dense, fused = cells[PRE_SCALED]["median_ms"], cells[FUSED]["median_ms"]
            document["batches"][str(batch)] = {
                "dense_ms": dense, "compressed_ms": fused, "speedup": dense / fused,
                "speedup_vs_dense_kernel": cells[DENSE_KERNEL]["median_ms"] / fused,
                "speedup_vs_efficient_kan": cells[EFFICIENT_KAN]["median_ms"] / fused,
                "forms": cells, "route": [fused_route(batch, layer.spline_order) for layer in model.layers],
                "fused_vs_decompressed_rel_error": relative_error(np.asarray(table[FUSED](x)), expected),
                "dense_kernel_vs_dense_rel_error": relative_error(np.asarray(table[DENSE_KERNEL](x)), dense_expected),
                "bytes_touched": bytes_touched(model, compressed, batch),
            }
            print_batch(batch, document["batches"][str(batch)])
    document["host"]["load_average_after"] = list(os.getloadavg())
    host = document["host"]
    host["busy"] = busy(host["load_average"][0], host["load_average_after"][0], args.threads)
    return document


def busy(before: float, after: float, threads: int) -> bool:
    """True when the 1-minute load average before or after a run reached ``QUIET_LOAD`` plus the run's own
    threads beyond the first (a 2-thread run keeps two cores busy itself; the average lags by about a minute)."""
    return max(before, after) >= QUIET_LOAD + threads - 1


def print_batch(batch: int, cell: dict) -> None:
    """One table block: every form's median, IQR and ratio against the fused kernel."""
    fused = cell["forms"][FUSED]["median_ms"]
    print(f"batch {batch}:")
    for name, timing in cell["forms"].items():
        print(f"  {name:<28} {timing['median_ms']:9.3f} ms  IQR {timing['iqr_ms']:7.3f}  "
              f"{timing['median_ms'] / fused:5.2f}x the fused kernel's time  ({timing['calls']} calls)")


def main() -> None:
    """Parse arguments, run, print and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DETECTOR_DIR / HEAD_FILE)
    parser.add_argument("--codebook-size", type=int, default=4096)
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--batches", type=lambda text: [int(v) for v in text.split(",")], default=[1, 16, 256])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0, help="time budget per batch (default 8)")
    parser.add_argument("--no-torch-path", action="store_true", help="skip the pure-torch compressed path")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse-dir", type=Path, help="keep compressed files here and reuse them across runs")
    parser.add_argument("--compress-only", action="store_true", help="write the compressed file to --reuse-dir and stop")
    args = parser.parse_args()
    if args.compress_only:
        compressed, seconds, size = compressed_head(read_model(args.model).model.eval(), args)
        print(f"compressed in {seconds} s, file {size:,} bytes")
        return
    document = run(args)
    print(f"storage: {document['storage']['ratio']:.2f}x, coefficient rel. L2 {document['coef_rel_l2']:.4f}")
    loads = document["host"]["load_average"][0], document["host"]["load_average_after"][0]
    if document["host"]["busy"]:
        print(f"machine busy: 1-minute load average {loads[0]:.2f} before, {loads[1]:.2f} after (quiet is below "
              f"{QUIET_LOAD + document['host']['threads'] - 1:g} at {document['host']['threads']} thread(s)); these "
              f"timings are not quiet-machine figures")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(args.json, json.dumps(document, indent=1, sort_keys=True).encode())


if __name__ == "__main__":
    main()
