"""Working-set curve on this host: batch-1 latency of a dense head against its compressed form, by head size.

Square one-layer heads (G = 10, k = 3, D = 13) from about 4 thousand to 2 million edges, so the
dense head (56 bytes an edge pre-scaled) runs from L2-resident through L3 to DRAM while the
compressed one (an index and three 8-bit codes an edge plus a K = 4,096 Int8 codebook) stays far
smaller. Each compressed head has random codes (latency does not depend on the values); its
dense form is its own decompression, so both compute the same function. Timings are interleaved
over sizes and forms in one process; each sample is the mean of enough calls to last ~2 ms.
The touched bytes and the energy estimate for each size come from ``costs.memory_traffic`` and
``costs.energy``.

    python bench/working_set.py [--json assets/runtime/working_set.json] [--threads 1] [--repeats 15]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch
from dense_baselines import DenseKernelKAN, PreScaledKAN
from runtime import busy

from sharekan_core.compression import CompressionConfig, decompress
from sharekan_core.compression.compressed import CompressedKAN, CompressedLayer
from sharekan_core.compression.quantize import quantize
from sharekan_core.io import write_bytes_atomic
from sharekan_core.costs.cache_residency import fits_in, host_caches
from sharekan_core.costs.energy import dense_vs_compressed
from sharekan_core.timing import Timings, interleaved, mean_ms

WIDTHS = (64, 128, 256, 512, 1024, 1448)
CODEBOOK_SIZE, BITS, GRID, ORDER = 4096, 8, 10, 3


def synthetic_head(width: int, seed: int = 0) -> CompressedKAN:
    """A width -> width compressed head with random indices and codes, Int8 with a K = 4,096 codebook."""
    rng = np.random.default_rng(seed)
    num_bases = GRID + ORDER
    shape = (width, width)
    knots = np.linspace(-1 - ORDER * 2 / GRID, 1 + ORDER * 2 / GRID, GRID + 2 * ORDER + 1, dtype=np.float32)
    layer = CompressedLayer(
        grid=np.tile(knots, (width, 1)), spline_order=ORDER, codebook_id=0,
        indices=rng.integers(0, CODEBOOK_SIZE, size=shape),
        gains=quantize(rng.lognormal(-1.5, 0.6, size=shape) / np.sqrt(width), BITS),
        biases=quantize(rng.normal(scale=0.02, size=shape), BITS),
        base_weights=quantize(rng.normal(scale=1 / np.sqrt(width), size=shape), BITS),
        output_scale=np.ones(width, np.float32), output_bias=np.zeros(width, np.float32))
    codebook = quantize(rng.normal(size=(CODEBOOK_SIZE, num_bases)) / np.sqrt(num_bases), BITS, grouping="columns")
    return CompressedKAN([codebook], [layer], CompressionConfig(codebook_size=CODEBOOK_SIZE, bits=BITS))


def forms(compressed: CompressedKAN) -> dict[str, tuple[str, object]]:
    """The forms timed, by key: (label, callable on a (B, in) float32 array).

    dense: the pre-scaled eager dense head, the strongest eager dense forward; dense_kernel: the
    dense head through the fused kernel's loop order (kernel against kernel); compressed: the
    fused numba kernel, or the eager torch compressed-domain forward where numba is missing.
    """
    dense = decompress(compressed).eval()
    prescaled = PreScaledKAN(dense)
    chosen = {"dense": ("dense pre-scaled eager (bench/dense_baselines.PreScaledKAN)",
                        lambda x: prescaled(torch.from_numpy(x)))}
    try:
        from sharekan_core.runtime.fused_kernel import FusedKAN
    except ImportError:
        from sharekan_core.runtime import CompressedDomainKAN

        module = CompressedDomainKAN(compressed).eval()
        chosen["compressed"] = ("eager torch CompressedDomainKAN (fused kernel not available)",
                                lambda x: module(torch.from_numpy(x)))
        return chosen
    chosen["dense_kernel"] = ("dense local-support numba kernel (bench/dense_baselines.DenseKernelKAN)",
                              DenseKernelKAN(dense))
    chosen["compressed"] = ("fused numba kernel (runtime.fused_kernel.FusedKAN)", FusedKAN.from_compressed(compressed))
    return chosen


def sample_ms(forward, x: np.ndarray, calls: int) -> float:
    """Mean milliseconds of ``calls`` consecutive calls."""
    with torch.no_grad():
        return mean_ms(lambda: forward(x), calls)[0]


def spread(timings: Timings) -> dict:
    """Median and quartiles of timing samples (ms), by sharekan_core.timing's one definition."""
    return {key: value for key, value in timings.summary().items() if key in ("median_ms", "q1_ms", "q3_ms")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=Path("assets/runtime/working_set.json"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import numba

        numba.set_num_threads(args.threads)
    except ImportError:
        pass
    caches = host_caches()
    load_before = os.getloadavg()
    heads = []
    for width in (int(w) for w in args.widths.split(",")):
        compressed = synthetic_head(width)
        x = (np.random.default_rng(width).random((1, width)) * 2 - 1).astype(np.float32)
        timed = forms(compressed)
        outputs = {key: np.asarray(forward(x)) for key, (_, forward) in timed.items()}  # warm-up; numba compiles
        reference = outputs["dense"]
        error = max(float(np.abs(out - reference).max() / np.abs(reference).max()) for out in outputs.values())
        calls = {key: max(1, int(2.0 / max(sample_ms(forward, x, 3), 1e-3))) for key, (_, forward) in timed.items()}
        heads.append({"width": width, "compressed": compressed, "x": x, "forms": timed, "calls": calls,
                      "relative_difference": error})
        print(f"built {width} x {width}: calls per sample {calls}, largest relative difference {error:.1e}", flush=True)
    calls_by_form = {(index, key): (lambda forward=forward, x=head["x"]: forward(x))
             for index, head in enumerate(heads) for key, (_, forward) in head["forms"].items()}
    with torch.no_grad():  # interleaved: every size and form once per round
        timed = interleaved(calls_by_form, args.repeats, warmup=False,
                            calls={(index, key): heads[index]["calls"][key] for index, key in calls_by_form})
    rows = []
    for index, head in enumerate(heads):
        width, compressed = head["width"], head["compressed"]
        energy = {r["form"]: r for r in dense_vs_compressed(compressed, 1, caches)}
        counted = {"dense": energy["dense, pre-scaled eager"], "dense_kernel": energy["dense, local-support kernel"],
                   "compressed": energy["compressed, fused kernel"]}
        row = {"width": width, "edges": width * width, "relative_difference": head["relative_difference"]}
        for key in head["forms"]:
            row[key] = spread(timed[(index, key)])
            row[f"{key}_touched_bytes"] = counted[key]["touched_bytes"]
            row[f"{key}_footprint_bytes"] = counted[key]["footprint_bytes"]
            row[f"{key}_fits"] = fits_in(counted[key]["footprint_bytes"], caches)
            row[f"{key}_energy_nj"] = counted[key]["total_nj"]
        row["compressed_over_dense_speed"] = row["dense"]["median_ms"] / row["compressed"]["median_ms"]
        rows.append(row)
        print(f"{width:>5} x {width:<5} {width * width:>9,} edges  "
              + "  ".join(f"{key} {row[key]['median_ms']:.3f} ms [{row[key]['q1_ms']:.3f}-{row[key]['q3_ms']:.3f}] "
                          f"({row[key + '_fits']})" for key in head["forms"])
              + f"  compressed/dense speed {row['compressed_over_dense_speed']:.2f}x", flush=True)
    labels = {key: label for key, (label, _) in heads[0]["forms"].items()}
    load_after = os.getloadavg()[0]
    document = {
        "host": {"caches": caches, "processor": platform.processor() or platform.machine()},
        "load_average": {"before": load_before[0], "after": load_after, "cores": os.cpu_count(),
                         "busy": busy(load_before[0], load_after, args.threads)},
        "threads": args.threads, "batch": 1, "repeats": args.repeats, "codebook_size": CODEBOOK_SIZE, "bits": BITS,
        "forms": labels, "dense_form": labels["dense"], "compressed_form": labels["compressed"],
        "note": "synthetic square one-layer heads with random codes; dense = their decompression; "
                "median and IQR of interleaved samples, each a mean over calls lasting about 2 ms; "
                "energy is an estimate (costs.energy.SOURCE)",
        "energy_source": counted["dense"]["source"], "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(args.json, (json.dumps(document, indent=1) + "\n").encode())
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
