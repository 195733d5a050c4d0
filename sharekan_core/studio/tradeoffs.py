"""The Trade-offs page's view model: sweep documents (saved or live) as chart-ready tables.

The sweep itself (K x bits x seeds, pruning baseline, summary, Pareto frontier) is
``sharekan_core.experiments``; this module only reads its documents and shapes them for charts.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..compress.compressor import Progress
from ..model import KAN
from .models import REPO_ROOT
from .optional import optional_attribute

SWEEP_DIR = REPO_ROOT / "assets" / "sweeps"
# SHARe-KAN (arXiv 2512.15742), PASCAL VOC detection head: drawn as references, never as our results.
PAPER_POINTS = (
    {"label": "dense KAN head (from the paper, not measured here)", "MB": 58.67, "metric": 82.22},
    {"label": "SHARe-KAN Int8 (from the paper, not measured here)", "MB": 6.32, "metric": 80.22},
)
PAPER_METRIC = "VOC mAP@0.5 (%)"


def sweeps_available() -> bool:
    """True once ``sharekan_core.experiments`` (the sweep runner) is importable."""
    return optional_attribute("sharekan_core.experiments", "run_sweep") is not None


def saved_sweeps(folder: Path = SWEEP_DIR) -> dict[str, dict]:
    """Sweep documents saved under ``folder`` (``*.json`` with 'points'), by file stem."""
    documents = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and isinstance(document.get("points"), list):
            documents[path.stem] = document
    return documents


def live_sweep(model: KAN, name: str, task: str | None, sizes: list[int], bits: list[int], seeds: list[int],
               sparsities: list[float], progress: Progress | None = None) -> dict:
    """Run a small sweep of ``model`` now and return it as a sweep document (like the saved ones)."""
    from ..experiments import run_sweep, task_metric
    from ..experiments.sweep import sweep_document

    metric = task_metric(task)
    points = run_sweep(model, metric, sizes, bits, seeds, sparsities, progress)
    return sweep_document(name, metric, points)


def summary_frame(document: dict) -> pd.DataFrame:
    """Per configuration: method, label, MB, metric mean/std, error-bar ends and whether it is on the frontier."""
    from ..experiments import pareto_frontier, summarize_sweep
    from ..experiments.sweep import SweepPoint

    rows = summarize_sweep([SweepPoint(**point) for point in document["points"]])
    frontier = {_key(row) for row in pareto_frontier([row for row in rows if row["method"] == "sharekan"])}
    frame = pd.DataFrame(rows)
    frame["MB"] = frame["stored_bytes"] / 1e6
    frame["metric_low"] = frame["metric_mean"] - frame["metric_std"]
    frame["metric_high"] = frame["metric_mean"] + frame["metric_std"]
    frame["pareto"] = [_key(row) in frontier for row in rows]
    frame["label"] = [_label(row) for row in rows]
    frame["bits"] = frame["bits"].astype("Int64").astype(str)
    return frame.sort_values("MB", ignore_index=True)


def _key(row: dict) -> tuple:
    return row["method"], row["codebook_size"], row["bits"], row["sparsity"]


def _label(row: dict) -> str:
    if row["method"] == "sharekan":
        width = "fp32" if row["bits"] == 32 else f"int{int(row['bits'])}"
        return f"K={int(row['codebook_size']):,} {width}"
    if row["method"] == "pruning":
        return f"pruned {row['sparsity']:.0%}"
    return "dense"


def paper_frame() -> pd.DataFrame:
    """The paper's two published points, labelled as references."""
    return pd.DataFrame(PAPER_POINTS)


def comparable_to_paper(document: dict) -> bool:
    """True when a sweep's metric is detection mAP, the quantity the paper's points measure."""
    return "map" in str(document.get("metric", "")).lower()


def paper_points_as_fraction() -> pd.DataFrame:
    """The paper's points with mAP as a fraction (0..1), to sit on a chart of mAP@0.5 fractions."""
    frame = paper_frame()
    frame["metric"] = frame["metric"] / 100.0
    return frame


def live_sweep_defaults(edges: int) -> dict:
    """A sweep small enough to finish in well under a minute on this model."""
    from ..experiments import default_codebook_sizes

    sizes = default_codebook_sizes(edges)
    return {"size_choices": sizes, "sizes": sizes[::2][:4] if edges < 65_536 else sizes[:3], "bits": [32, 8, 4],
            "seeds": 3 if edges < 65_536 else 1, "sparsities": [0.1, 0.3, 0.5]}
