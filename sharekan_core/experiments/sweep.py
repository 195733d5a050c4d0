"""The storage-versus-metric sweep: every method's configurations x seeds, measured on one task metric.

A sweep is a list of ``SweepJob`` (a method name and the config it runs). Each job becomes one
``SweepPoint`` (stored bytes, task metric, coefficient error). Jobs are independent, so they run on
Dask distributed: a ``LocalCluster`` of one single-threaded worker process per core by default, or
an existing cluster given by its scheduler address. Points come back in job order and every job is
seeded by its config, so a distributed sweep returns exactly what a serial one does.
"""
from __future__ import annotations

import os
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..compression import CompressionConfig, decompress, prune_by_magnitude
from ..compression.api import compress
from ..format import dense_bytes, storage_report
from ..format.accounting import pruned_bytes
from ..fidelity import fidelity_report
from ..model import KAN
from ..results import compress_and_measure
from ..progress import Progress
from ..ranges import MAX_CODEBOOK
from ..tasks import TaskMetric
from ..tasks.bootstrap import MatchedDetections, figures_with_intervals
SERIAL = "serial"
OnPoint = Callable[[int, "SweepPoint"], None]


@dataclass(frozen=True)
class SweepPoint:
    """One measured configuration: method 'dense', 'pruning', 'sharekan' or another registered method.

    ``variant`` names what else sets the configuration apart (e.g. 'data-aware', 'group 64');
    ``bits`` is the width of the stored values (the codebook's for SHARe-KAN).
    """

    method: str
    codebook_size: int | None
    bits: int | None
    seed: int | None
    sparsity: float | None
    stored_bytes: int
    metric: float
    coef_rel_l2: float
    variant: str = ""
    class_metric: dict[str, float] | None = None  # the metric's per-class parts (detection: AP@0.5 per class)
    # Per-image matches behind ``metric`` (detection), for bootstrap intervals; never saved with the point.
    matches: MatchedDetections | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SweepJob:
    """One configuration to measure: ``method`` and its ``config`` (a sparsity for pruning, None for dense).

    Any config that ``compression.api.compress`` accepts runs as method ``config.method``;
    ``calibrated`` passes the sweep's calibration inputs to it (data-aware SHARe-KAN, GPTQ).
    """

    method: str
    config: Any = None
    calibrated: bool = False
    variant: str = ""


def config_job(config: Any, calibrated: bool = False, variant: str = "") -> SweepJob:
    """The job that runs ``config`` (a method config) through ``compression.api.compress``."""
    return SweepJob(config.method, config, calibrated, variant)


def _run(model: KAN, job: SweepJob, calibration: np.ndarray | None) -> tuple[int, KAN]:
    """(stored bytes, dense module to evaluate) for one job."""
    if job.method == "dense":
        return dense_bytes(model), model
    if job.method == "pruning":  # magnitude pruning, stored as sparse FP32
        pruned = prune_by_magnitude(model, job.config)
        return pruned_bytes(model, [int(mask.sum()) for mask in pruned.kept]), pruned.model
    if calibration is None and isinstance(job.config, CompressionConfig):
        result = compress_and_measure(model, job.config)
        return result.storage.compressed_bytes, result.reconstructed
    compressed = compress(model, job.config, calibration)
    return storage_report(model, compressed).compressed_bytes, decompress(compressed)


def measure_job(model: KAN, metric: TaskMetric, job: SweepJob, calibration: np.ndarray | None = None) -> SweepPoint:
    """Run one job and measure its stored bytes, task metric and coefficient error against ``model``."""
    stored, module = _run(model, job, calibration if job.calibrated else None)
    module = module.eval()
    config = job.config
    sparsity = float(config) if job.method == "pruning" else getattr(config, "sparsity", None)
    bits = 32 if config is None or job.method == "pruning" else getattr(config, "bits", None)
    error = 0.0 if job.method == "dense" else fidelity_report(model, module).coef_rel_l2
    value, by_class, matches = metric.measure_matched(module)
    return SweepPoint(job.method, getattr(config, "codebook_size", None), bits, getattr(config, "seed", None),
                      sparsity, int(stored), float(value), float(error), job.variant, by_class, matches)


def job_key(job: SweepJob) -> tuple:
    """What tells measured points apart: (method, variant, K, bits, seed, sparsity), as ``point_key`` reads it."""
    config = job.config
    sparsity = float(config) if job.method == "pruning" else getattr(config, "sparsity", None)
    bits = 32 if config is None or job.method == "pruning" else getattr(config, "bits", None)
    return (job.method, job.variant, getattr(config, "codebook_size", None), bits, getattr(config, "seed", None), sparsity)


def point_key(point: SweepPoint) -> tuple:
    """The ``job_key`` of the job that measured ``point``."""
    return (point.method, point.variant, point.codebook_size, point.bits, point.seed, point.sparsity)


def split_measured(jobs: Sequence[SweepJob], measured: Sequence[SweepPoint]) -> tuple[dict[int, SweepPoint], list[int]]:
    """Resuming a sweep: (job index -> point already measured, indices of the jobs still to run)."""
    by_key = {point_key(point): point for point in measured}
    done = {i: by_key[job_key(job)] for i, job in enumerate(jobs) if job_key(job) in by_key}
    return done, [i for i in range(len(jobs)) if i not in done]


def default_codebook_sizes(num_edges: int, low: int = 16, high: int = MAX_CODEBOOK) -> list[int]:
    """Powers of two from ``low`` to ``high``, capped at the number of edges (which is kept as the last K)."""
    sizes = [2 ** p for p in range(int(np.log2(low)), int(np.log2(high)) + 1) if 2 ** p < num_edges]
    return sizes + ([min(num_edges, high)] if num_edges >= low else [])


def sharekan_jobs(codebook_sizes: Sequence[int], bits: Sequence[int] = (32, 8, 4), seeds: Sequence[int] = (0, 1, 2),
                  sparsities: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5)) -> list[SweepJob]:
    """Dense, every (K, bits, seed) SHARe-KAN compression, and magnitude pruning at each sparsity."""
    jobs = [SweepJob("dense")]
    jobs += [SweepJob("sharekan", CompressionConfig(codebook_size=k, bits=b, seed=s))
             for k in codebook_sizes for b in bits for s in seeds]
    return jobs + [SweepJob("pruning", sparsity) for sparsity in sparsities]


def run_jobs(model: KAN, metric: TaskMetric, jobs: Sequence[SweepJob], calibration: np.ndarray | None = None,
             scheduler: str | None = None, workers: int | None = None, progress: Progress | None = None,
             on_point: OnPoint | None = None) -> list[SweepPoint]:
    """Measure every job; return the points in job order.

    ``scheduler``: None starts a ``LocalCluster`` of ``workers`` single-threaded processes (default one
    per core), an address such as 'tcp://host:8786' uses that running cluster, 'serial' runs here.
    ``on_point(index, point)`` sees each point as it arrives (to save partial results of a long sweep).
    """
    report = progress or (lambda fraction, message: None)
    if scheduler == SERIAL:
        points = []
        for done, job in enumerate(jobs):
            report(done / len(jobs), describe(job))
            points.append(measure_job(model, metric, job, calibration))
            if on_point is not None:
                on_point(len(points) - 1, points[-1])
        report(1.0, "sweep done")
        return points
    with dask_client(scheduler, workers) as client:
        return run_on_client(client, model, metric, jobs, calibration, report, on_point)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, processes: bool = True) -> Iterator[Any]:
    """A Dask client on the cluster at ``scheduler``, or on a new LocalCluster closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    count = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=count, threads_per_worker=1, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def run_on_client(client: Any, model: KAN, metric: TaskMetric, jobs: Sequence[SweepJob],
                  calibration: np.ndarray | None = None, progress: Progress | None = None,
                  on_point: OnPoint | None = None) -> list[SweepPoint]:
    """Submit every job to ``client`` (model, metric and calibration sent once) and gather them in order."""
    from distributed import as_completed

    report = progress or (lambda fraction, message: None)
    shared = client.scatter([model, metric, calibration], broadcast=True)
    futures = [client.submit(measure_job, *shared[:2], job, shared[2], pure=False, key=f"sweep-{i}")
               for i, job in enumerate(jobs)]
    report(0.0, f"{len(jobs)} points on {len(client.scheduler_info()['workers'])} Dask workers")
    for done, future in enumerate(as_completed(futures), start=1):
        index = futures.index(future)
        if on_point is not None:
            on_point(index, future.result())
        report(done / len(futures), describe(jobs[index]))
    return client.gather(futures)


def describe(job: SweepJob) -> str:
    """A short label for progress messages."""
    if job.method == "dense":
        return "dense"
    if job.method == "pruning":
        return f"magnitude pruning at {job.config:.0%} sparsity"
    parts = [say(getattr(job.config, name)) for name, say in _SAID.items() if getattr(job.config, name, None) is not None]
    return " ".join(filter(None, [job.method, job.variant])) + (": " + ", ".join(parts) if parts else "")


# How a progress message says a config's main fields, in this order (the others are left out).
_SAID = {"codebook_size": lambda v: f"K = {v:,}", "bits": lambda v: f"{v}-bit", "group_size": lambda v: f"groups of {v}",
         "sparsity": lambda v: f"{v:.0%} sparsity", "seed": lambda v: f"seed {v}"}


def run_sweep(model: KAN, metric: TaskMetric, codebook_sizes: Sequence[int], bits: Sequence[int] = (32, 8, 4),
              seeds: Sequence[int] = (0, 1, 2), sparsities: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
              progress: Progress | None = None, scheduler: str | None = SERIAL,
              workers: int | None = None) -> list[SweepPoint]:
    """Measure dense, every (K, bits, seed) compression, and magnitude pruning at each sparsity."""
    return run_jobs(model, metric, sharekan_jobs(codebook_sizes, bits, seeds, sparsities),
                    scheduler=scheduler, workers=workers, progress=progress)


def configuration_groups(points: Sequence[SweepPoint]) -> dict[tuple, list[SweepPoint]]:
    """Points by configuration (method, variant, K, bits, sparsity): the seeds of one configuration together."""
    groups: dict[tuple, list[SweepPoint]] = defaultdict(list)
    for point in points:
        groups[(point.method, point.variant, point.codebook_size, point.bits, point.sparsity)].append(point)
    return groups


def summarize_sweep(points: Sequence[SweepPoint]) -> list[dict]:
    """Group points by configuration and return mean/std of metric and bytes over seeds, with bootstrap intervals
    against dense (``interval_figures``) where every point carries its matches."""
    groups = configuration_groups(points)
    intervals = interval_figures(groups)
    rows = []
    for (method, variant, k, bits, sparsity), members in groups.items():
        metrics = np.array([p.metric for p in members])
        rows.append({"method": method, "variant": variant, "codebook_size": k, "bits": bits, "sparsity": sparsity,
                     "seeds": len(members), "stored_bytes": int(np.mean([p.stored_bytes for p in members])),
                     "metric_mean": float(metrics.mean()), "metric_std": float(metrics.std()),
                     "coef_rel_l2_mean": float(np.mean([p.coef_rel_l2 for p in members]))}
                    | _class_means(members) | intervals.get((method, variant, k, bits, sparsity), {}))
    return rows


def interval_figures(groups: dict[tuple, list[SweepPoint]]) -> dict[tuple, dict]:
    """{configuration: {"intervals": ...}}: each configuration's mean metric over its seeds with a bootstrap
    interval over images, and its change against dense paired on the same resamples (``tasks.bootstrap``).
    Empty unless there is one dense point and every point carries its per-image matches."""
    dense = [key for key in groups if key[0] == "dense"]
    if len(dense) != 1 or any(p.matches is None for members in groups.values() for p in members):
        return {}
    names = {key: f"{i}" for i, key in enumerate(groups)}
    figures = figures_with_intervals({names[key]: [p.matches for p in members] for key, members in groups.items()},
                                     names[dense[0]])
    return {key: {"intervals": figures[names[key]] | {"bootstrap": figures["bootstrap"]}} for key in groups}


def _class_means(members: Sequence[SweepPoint]) -> dict:
    """{"class_metric_mean": {class: mean over seeds}} when every member has per-class parts, else {}."""
    if not members or any(p.class_metric is None for p in members):
        return {}
    names = members[0].class_metric.keys()
    return {"class_metric_mean": {name: float(np.mean([p.class_metric.get(name, np.nan) for p in members]))
                                  for name in names}}


def pareto_frontier(rows: Sequence[dict]) -> list[dict]:
    """Rows not dominated by any other (fewer or equal bytes and higher or equal mean metric)."""
    ordered = sorted(rows, key=lambda r: (r["stored_bytes"], -r["metric_mean"]))
    frontier, best = [], -np.inf
    for row in ordered:
        if row["metric_mean"] > best:
            frontier.append(row)
            best = row["metric_mean"]
    return frontier


def method_name(row: dict) -> str:
    """The method and its variant as one name, e.g. 'sharekan (data-aware)'."""
    return f"{row['method']} ({row['variant']})" if row.get("variant") else row["method"]


def pareto_by_method(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """The Pareto frontier of each method (and variant) on its own, dense left out."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["method"] != "dense":
            groups[method_name(row)].append(row)
    return {name: pareto_frontier(members) for name, members in groups.items()}


def saved_point(point: SweepPoint) -> dict:
    """A point as the JSON keeps it (its matches left out)."""
    return {f.name: getattr(point, f.name) for f in fields(point) if f.name != "matches"}


def sweep_document(name: str, metric: TaskMetric, points: Sequence[SweepPoint]) -> dict:
    """The JSON saved under assets/sweeps/: raw points, per-configuration summary and frontiers."""
    summary = summarize_sweep(points)
    return {"model": name, "metric": metric.name, "metric_label": metric.label,
            "points": [saved_point(p) for p in points], "summary": summary,
            "pareto": pareto_frontier([r for r in summary if r["method"] != "dense"]),
            "pareto_by_method": pareto_by_method(summary)}
