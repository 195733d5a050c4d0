"""End-to-end compression at paper scale: a ~1M-edge KAN (D = 13) at K = 4096.

Prints, per named stage of the compressor (decompose, cluster, quantize, assign, refit, pack: each
called and timed here directly), the median wall time over --repeats runs, for the default codebook
builder and (with --compare-flat, CompressionConfig(kmeans_method="flat")) faiss flat k-means side by side.
Usage: python bench/compress.py [--edges-side 1000] [--k 4096] [--repeats 1] [--compare-flat]
"""
from __future__ import annotations

import argparse
from dataclasses import replace
import os
import statistics
import time

import numpy as np
import torch

from sharekan_core.compression import CompressionConfig, decompress
from sharekan_core.compression.compressor import (assign_edges, decompose_layers, fit_codebook, pack, quantize_codebook,
                                               refit_edges)
from sharekan_core.format import storage_report
from sharekan_core.format.compressed_file import encode_compressed
from sharekan_core.fidelity import fidelity_report
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


def timed_run(model: KAN, config: CompressionConfig) -> dict[str, float]:
    """One compression with each named stage of the compressor timed as it is called, then file and metrics."""
    stages: dict[str, float] = {}

    def timed(name: str, step):
        start = time.perf_counter()
        result = step()
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - start
        return result

    bits = config.component_bits()
    groups = timed("decompose", lambda: decompose_layers(model, config))
    indices, gains, biases, stored = {}, {}, {}, []
    for group_id, group in enumerate(groups):
        codebook = timed("cluster (k-means)", lambda: fit_codebook(group, config))
        quantized = timed("quantize codebook", lambda: quantize_codebook(codebook, bits["codebook"], group_id))
        codewords = quantized.dequantize()
        assigned = timed("assign", lambda: assign_edges(group, codewords, codebook.assignments))
        refitted = timed("refit", lambda: refit_edges(group, codewords[assigned], config))
        stored.append(quantized)
        indices.update(group.split(assigned, model))
        gains.update(group.split(refitted[0], model))
        biases.update(group.split(refitted[1], model))
    compressed = timed("quantize + pack", lambda: pack(model, config, stored, indices, gains, biases))
    timed("encode file", lambda: encode_compressed(compressed))
    timed("storage accounting", lambda: storage_report(model, compressed))
    timed("fidelity metrics", lambda: fidelity_report(model, decompress(compressed)))
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
    results = {m: [timed_run(model, replace(config, kmeans_method=m)) for _ in range(args.repeats)] for m in methods}
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
