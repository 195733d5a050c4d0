"""The storage-versus-metric sweep: K x bits x seeds for SHARe-KAN, sparsities for pruning."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from ..compress import CompressionConfig, prune_by_magnitude
from ..format import dense_storage
from ..metrics import fidelity_report
from ..model import KAN
from ..results import compress_and_measure
from .task_metric import TaskMetric

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SweepPoint:
    """One measured configuration: method 'dense', 'sharekan' or 'pruning'."""

    method: str
    codebook_size: int | None
    bits: int | None
    seed: int | None
    sparsity: float | None
    stored_bytes: int
    metric: float
    coef_rel_l2: float


def default_codebook_sizes(num_edges: int, low: int = 16, high: int = 65_536) -> list[int]:
    """Powers of two from ``low`` to ``high``, capped at the number of edges (which is kept as the last K)."""
    sizes = [2 ** p for p in range(int(np.log2(low)), int(np.log2(high)) + 1) if 2 ** p < num_edges]
    return sizes + ([min(num_edges, high)] if num_edges >= low else [])


def run_sweep(model: KAN, metric: TaskMetric, codebook_sizes: Sequence[int], bits: Sequence[int] = (32, 8, 4),
              seeds: Sequence[int] = (0, 1, 2), sparsities: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
              progress: Progress | None = None) -> list[SweepPoint]:
    """Measure dense, every (K, bits, seed) compression, and magnitude pruning at each sparsity."""
    report = progress or (lambda fraction, message: None)
    dense_bytes = sum(sum(row.values()) for row in dense_storage(model).values())
    points = [SweepPoint("dense", None, 32, None, None, dense_bytes, metric.evaluate(model.eval()), 0.0)]
    jobs = [(k, b, s) for k in codebook_sizes for b in bits for s in seeds]
    total = len(jobs) + len(sparsities)
    for done, (k, b, s) in enumerate(jobs):
        report(done / total, f"K={k}, {b} bits, seed {s}")
        result = compress_and_measure(model, CompressionConfig(codebook_size=k, bits=b, seed=s))
        points.append(SweepPoint("sharekan", k, b, s, None, result.storage.compressed_bytes,
                                 metric.evaluate(result.reconstructed.eval()), result.fidelity.coef_rel_l2))
    for done, sparsity in enumerate(sparsities, start=len(jobs)):
        report(done / total, f"magnitude pruning at {sparsity:.0%} sparsity")
        pruned = prune_by_magnitude(model, sparsity)
        points.append(SweepPoint("pruning", None, 32, None, sparsity, pruned.stored_bytes,
                                 metric.evaluate(pruned.model.eval()), fidelity_report(model, pruned.model).coef_rel_l2))
    report(1.0, "sweep done")
    return points


def summarize_sweep(points: Sequence[SweepPoint]) -> list[dict]:
    """Group points by configuration and return mean/std of metric and bytes over seeds."""
    groups: dict[tuple, list[SweepPoint]] = defaultdict(list)
    for point in points:
        groups[(point.method, point.codebook_size, point.bits, point.sparsity)].append(point)
    rows = []
    for (method, k, bits, sparsity), members in groups.items():
        metrics = np.array([p.metric for p in members])
        rows.append({"method": method, "codebook_size": k, "bits": bits, "sparsity": sparsity,
                     "seeds": len(members), "stored_bytes": int(np.mean([p.stored_bytes for p in members])),
                     "metric_mean": float(metrics.mean()), "metric_std": float(metrics.std()),
                     "coef_rel_l2_mean": float(np.mean([p.coef_rel_l2 for p in members]))})
    return rows


def pareto_frontier(rows: Sequence[dict]) -> list[dict]:
    """Rows not dominated by any other (fewer or equal bytes and higher or equal mean metric)."""
    ordered = sorted(rows, key=lambda r: (r["stored_bytes"], -r["metric_mean"]))
    frontier, best = [], -np.inf
    for row in ordered:
        if row["metric_mean"] > best:
            frontier.append(row)
            best = row["metric_mean"]
    return frontier


def sweep_document(name: str, metric: TaskMetric, points: Sequence[SweepPoint]) -> dict:
    """The JSON saved under assets/sweeps/: raw points, per-configuration summary and frontier."""
    summary = summarize_sweep(points)
    return {"model": name, "metric": metric.name, "metric_label": metric.label,
            "points": [asdict(p) for p in points], "summary": summary,
            "pareto": pareto_frontier([r for r in summary if r["method"] != "dense"])}
