"""The Trade-offs page's view model: sweep and transfer documents (saved or live) as chart-ready tables.

The sweep itself (K x bits x seeds, pruning baseline, summary, Pareto frontier) and the zero-shot
transfer are ``sharekan_core.experiments``; this module only shapes their documents for charts.
"""
from __future__ import annotations

import textwrap

import pandas as pd

from ..model import KAN
from ..progress import Progress
from ..tasks import TaskMetric
from .compression import CompressionRun, width_name
from .evaluation import EvaluationSet, Measure, evaluation_set_measure, fidelity_measure, task_measure
from .history import method_name

NEGLIGIBLE_STD = 1e-9  # a spread this small is rounding in the metric, shown as 0

# SHARe-KAN (arXiv 2512.15742), PASCAL VOC detection head: drawn as references, never as our results.
# Their mAP is against VOC's human labels, a different quantity from any metric measured here, so only
# their storage is placed on a chart's axis; the mAP stays in the label.
PAPER_POINTS = (
    {"label": "paper: dense KAN head", "MB": 58.67,
     "detail": "dense KAN head, 58.67 MB, 82.22 VOC mAP (from the paper, not measured here)"},
    {"label": "paper: SHARe-KAN Int8", "MB": 6.32,
     "detail": "SHARe-KAN Int8, 6.32 MB, 80.22 VOC mAP (from the paper, not measured here)"},
)


def live_sweep(model: KAN, name: str, metric: TaskMetric, sizes: list[int], bits: list[int], seeds: list[int],
               sparsities: list[float], progress: Progress | None = None) -> dict:
    """Run a small sweep of ``model`` on ``metric`` (higher is better) now; returns a sweep document like the
    saved ones."""
    from ..experiments import run_sweep
    from ..experiments.sweep import sweep_document

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
    frame["metric_std"] = frame["metric_std"].where(frame["metric_std"].abs() > NEGLIGIBLE_STD, 0.0)
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
        return f"K={int(row['codebook_size']):,} {width_name(int(row['bits']))}"
    if row["method"] == "pruning":
        return f"pruned {row['sparsity']:.0%}"
    return "dense"


def methods_frame(document: dict) -> pd.DataFrame:
    """Every method of a method-comparison sweep (assets/sweeps/<model>_methods.json) on one size axis.

    Columns: method (with its variant, e.g. 'sharekan (data-aware)'), label, MB, ratio, metric mean/std,
    error-bar ends, seeds, and ``pareto``: whether the row is on the Pareto frontier of its own method.
    """
    from ..experiments.sweep import SweepPoint, pareto_by_method, summarize_sweep
    from ..experiments.sweep import method_name as sweep_method

    rows = summarize_sweep([SweepPoint(**point) for point in document["points"]])
    dense = next(row["stored_bytes"] for row in rows if row["method"] == "dense")
    frontier = {(name, row["stored_bytes"], row["metric_mean"])
                for name, members in pareto_by_method(rows).items() for row in members}
    frame = pd.DataFrame(rows)
    frame["method"] = [sweep_method(row) for row in rows]
    frame["MB"] = frame["stored_bytes"] / 1e6
    frame["ratio"] = dense / frame["stored_bytes"]
    frame["metric_low"] = frame["metric_mean"] - frame["metric_std"]
    frame["metric_high"] = frame["metric_mean"] + frame["metric_std"]
    frame["pareto"] = [(sweep_method(row), row["stored_bytes"], row["metric_mean"]) in frontier for row in rows]
    frame["label"] = [_method_label(row) for row in rows]
    return frame.sort_values("MB", ignore_index=True)


def _method_label(row: dict) -> str:
    if row["method"] in ("sharekan", "kmeans"):
        return f"{row['method']} K={int(row['codebook_size']):,} {width_name(int(row['bits']))}"
    if row["method"] in ("uniform", "gptq"):
        return f"{row['method']} {int(row['bits'])}-bit"
    if row["method"] in ("prune", "pruning"):
        return f"pruned {row['sparsity']:.0%}"
    return "dense"


def paper_frame() -> pd.DataFrame:
    """The paper's two published points (label, MB, detail), labelled as references not measured here."""
    return pd.DataFrame(PAPER_POINTS)


def transfer_frame(document: dict) -> pd.DataFrame:
    """One row per codebook configuration: model B's metric dense, with its own codebook and with A's."""
    rows = []
    for row in document["rows"]:
        config = row["config"]
        rows.append({
            "K": config["codebook_size"], "bits": width_name(config["bits"]),
            "B dense": row["target_dense"],
            "B, its own codebook": row["target_own_codebook"],
            "B, A's codebook (zero-shot)": row["target_transferred_codebook"],
            "zero-shot / dense": row["retained_fraction_of_dense"],
            "coef rel. L2, own": row["coef_rel_l2_own"],
            "coef rel. L2, A's": row["coef_rel_l2_transferred"],
        })
    return pd.DataFrame(rows)


def live_sweep_defaults(edges: int) -> dict:
    """A sweep that finishes in about a minute or two on this model.

    Small models get several K, widths and seeds; a large head (each evaluation runs the detector over
    the held-out photos) gets three K around the paper's operating point, Int8 and Int4, one seed.
    """
    from ..experiments import default_codebook_sizes

    sizes = default_codebook_sizes(edges)
    if edges < 65_536:
        return {"size_choices": sizes, "sizes": sizes[::2][:4], "bits": [32, 8, 4], "seeds": 3,
                "sparsities": [0.1, 0.3, 0.5]}
    return {"size_choices": sizes, "sizes": [size for size in sizes if size in (256, 1024, 4096)], "bits": [8, 4],
            "seeds": 1, "sparsities": [0.5]}


def axis_title(label: str, width: int = 45) -> list[str]:
    """``label`` broken into lines of at most about ``width`` characters, for a chart axis."""
    return textwrap.wrap(label, width) or [label]


def metric_label(document: dict) -> str:
    """What a sweep's or a transfer's metric measures, as its file states it."""
    rows = document.get("rows") or [document]
    return str(rows[0].get("metric_label") or rows[0].get("metric") or "metric")


def sweep_measures(model: KAN, task: str | None, evaluation: EvaluationSet | None,
                   metadata: dict | None = None) -> dict[str, Measure]:
    """The metrics a live sweep of ``model`` can use, by label: its task's; else output fidelity, and accuracy
    on the user's evaluation set when it holds class labels (sweeps need a metric where higher is better)."""
    known = task_measure(task, metadata)
    if known is not None:
        return {known.metric.label: known}
    measures = [fidelity_measure(model, evaluation.inputs if evaluation is not None else None)]
    if evaluation is not None and evaluation.kind == "classification":
        measures.insert(0, evaluation_set_measure(evaluation))
    return {measure.metric.label: measure for measure in measures}


def session_runs_frame(runs: list[CompressionRun], model_key: str, label: str) -> pd.DataFrame:
    """This session's compressions of the model whose task metric is ``label``: run, MB, metric, text label."""
    rows = [{"run": number, "MB": run.result.storage.compressed_bytes / 1e6, "metric_mean": run.scores.compressed,
             "label": f"run {number}: {method_name(run.config)}"
                      + (f" K={run.config.codebook_size:,}" if hasattr(run.config, "codebook_size") else "")}
            for number, run in enumerate(runs, start=1)
            if run.model_key == model_key and run.scores is not None and run.scores.label == label]
    return pd.DataFrame(rows, columns=["run", "MB", "metric_mean", "label"])


def storage_domain(*sizes: pd.Series, margin: float = 1.25) -> list[float]:
    """A log-scale axis domain in MB that just holds every value of ``sizes`` (with a small margin)."""
    values = pd.concat([series for series in sizes if len(series)])
    values = values[values > 0]
    return [float(values.min()) / margin, float(values.max()) * margin]


def bits_order(bits: pd.Series) -> list[str]:
    """The distinct bit-widths as text, in numeric order (4, 8, 16, 32), for a chart legend."""
    return sorted({str(value) for value in bits if str(value).isdigit()}, key=int) + \
        sorted({str(value) for value in bits if not str(value).isdigit()})
