"""End-to-end compression at paper scale: a ~1M-edge KAN (D = 13) at K = 4096.

Prints, per stage, the median wall time over --repeats runs and its share of the total, for the
default codebook builder and (with --compare-flat) faiss flat k-means side by side.
Usage: python bench/compress.py [--edges-side 1000] [--k 4096] [--repeats 1] [--compare-flat]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from sharekan_core.compress import CompressionConfig, compress, decompress
from sharekan_core.compress import codebook as codebook_module
from sharekan_core.format import storage_report
from sharekan_core.format.compressed_file import encode_compressed
from sharekan_core.metrics import fidelity_report
from sharekan_core.model import KAN, KANConfig


def synthetic_kan(side: int, seed: int = 0) -> KAN:
    """A (side -> side) KAN whose splines are 2,000 smooth prototypes with gain, bias and noise."""
    rng = np.random.default_rng(seed)
    model = KAN(KANConfig((side, side)))
    layer = model.layers[0]
    t = np.linspace(0, 1, layer.num_coefficients)
    freq, phase = rng.uniform(0.5, 3, (2000, 1)), rng.uniform(0, 2 * np.pi, (2000, 1))
    prototypes = np.sin(2 * np.pi * freq * t + phase)
    edges = side * side
    coefficients = (rng.normal(0, 0.2, (edges, 1)) + rng.lognormal(-1, 0.5, (edges, 1))
                    * prototypes[rng.integers(0, 2000, edges)] + rng.normal(0, 0.02, (edges, len(t))))
    with torch.no_grad():
        layer.spline_weight.copy_(torch.from_numpy(coefficients.reshape(side, side, -1)))
    return model


def timed_run(model: KAN, config: CompressionConfig, method: str) -> dict[str, float]:
    """One compression with each stage timed; the codebook stage is timed inside the builder."""
    original = codebook_module.build_codebook
    spent = {"codebook": 0.0}

    def timed_builder(*args, **kwargs):
        start = time.perf_counter()
        result = original(*args, **{**kwargs, "method": method})
        spent["codebook"] += time.perf_counter() - start
        return result

    import sharekan_core.compress.compressor as compressor_module
    compressor_module.build_codebook = timed_builder
    try:
        start = time.perf_counter()
        compressed = compress(model, config)
        total_compress = time.perf_counter() - start
    finally:
        compressor_module.build_codebook = original
    stages = {"codebook (k-means)": spent["codebook"], "decompose+refit+quantize": total_compress - spent["codebook"]}
    for name, step in (("encode file", lambda: encode_compressed(compressed)),
                       ("storage accounting", lambda: storage_report(model, compressed)),
                       ("fidelity metrics", lambda: fidelity_report(model, decompress(compressed)))):
        start = time.perf_counter()
        step()
        stages[name] = time.perf_counter() - start
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edges-side", type=int, default=1000, help="the KAN is side -> side: side^2 edges")
    parser.add_argument("--k", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--compare-flat", action="store_true", help="also time faiss flat k-means (slow)")
    args = parser.parse_args()
    model = synthetic_kan(args.edges_side)
    config = CompressionConfig(codebook_size=args.k, bits=8)
    print(f"machine: {os.cpu_count()} cores; model: {model.num_edges:,} edges x D=13; K={args.k}, Int8; "
          f"median of {args.repeats} run(s)")
    methods = ["auto"] + (["flat"] if args.compare_flat else [])
    results = {m: [timed_run(model, config, m) for _ in range(args.repeats)] for m in methods}
    print(f"{'stage':28s}" + "".join(f"{m + ' [s]':>14s}" for m in methods)
          + ("" if len(methods) == 1 else f"{'flat/auto':>12s}"))
    for stage in results["auto"][0]:
        medians = [statistics.median(r[stage] for r in results[m]) for m in methods]
        ratio = "" if len(methods) == 1 else f"{medians[1] / max(medians[0], 1e-9):12.2f}"
        print(f"{stage:28s}" + "".join(f"{v:14.2f}" for v in medians) + ratio)
    totals = [statistics.median(sum(r.values()) for r in results[m]) for m in methods]
    print(f"{'total':28s}" + "".join(f"{v:14.2f}" for v in totals)
          + ("" if len(methods) == 1 else f"{totals[1] / totals[0]:12.2f}"))


if __name__ == "__main__":
    main()
