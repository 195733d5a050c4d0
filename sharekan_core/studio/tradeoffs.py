"""The Trade-offs page's view model: sweep and transfer documents (saved or live) as chart-ready tables.

The sweep itself (K x bits x seeds, pruning baseline, summary, Pareto frontier) and the zero-shot
transfer are ``sharekan_core.experiments``; this module only shapes their documents for charts.
"""
from __future__ import annotations

import textwrap
from functools import lru_cache

import pandas as pd

from .. import paper
from ..errors import SharekanError
from ..model import KAN
from ..progress import Progress
from ..tasks import TaskMetric
from .compression import CompressionRun, bits_label, width_name
from .evaluation import EvaluationSet, Measure, evaluation_set_measure, fidelity_measure, task_measure
from .history import method_name

NEGLIGIBLE_STD = 1e-9  # a spread this small is rounding in the metric, shown as 0

# SHARe-KAN's paper (sharekan_core.paper), PASCAL VOC detection head: drawn as references, never as our results.
# Their mAP is against VOC's human labels, a different quantity from any metric measured here, so only
# their storage is placed on a chart's axis; the mAP stays in the label.
PAPER_FIGURES = (("dense KAN head", paper.DENSE_HEAD_MB, paper.DENSE_VOC_MAP),
                 ("SHARe-KAN Int8", paper.INT8_HEAD_MB, paper.INT8_VOC_MAP))  # (what, MB, VOC mAP)
PAPER_POINTS = tuple({"label": f"paper: {what}", "MB": mb,
                      "detail": f"{what}, {mb} MB, {voc_map} VOC mAP (from the paper, not measured here)"}
                     for what, mb, voc_map in PAPER_FIGURES)


def paper_caption() -> str:
    """The caption under a chart that draws the paper's points, from ``PAPER_FIGURES``."""
    figures = " and ".join(f"{what}, {mb} MB at {voc_map} VOC mAP" for what, mb, voc_map in PAPER_FIGURES)
    return (f"Grey dashed rules, from the paper (not measured here): its {figures}. That mAP is against VOC's "
            "human labels, a different quantity from this chart's, so only their storage is placed.")


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
    frame["method"] = [method_display_name(sweep_method(row)) for row in rows]
    frame["MB"] = frame["stored_bytes"] / 1e6
    frame["ratio"] = dense / frame["stored_bytes"]
    frame["metric_low"] = frame["metric_mean"] - frame["metric_std"]
    frame["metric_high"] = frame["metric_mean"] + frame["metric_std"]
    frame["pareto"] = [(sweep_method(row), row["stored_bytes"], row["metric_mean"]) in frontier for row in rows]
    frame["metric_std"] = frame["metric_std"].where(frame["metric_std"].abs() > NEGLIGIBLE_STD, 0.0)
    frame["label"] = [_method_label(row) for row in rows]
    frame["vs dense (95% CI)"] = [_change_words(row, document) for row in rows]
    return frame.sort_values("MB", ignore_index=True)


def _change_words(row: dict, document: dict) -> str:
    """'-0.52 pts [-1.90, +0.80], no measurable loss' from the saved summary's bootstrap interval of ``row``'s
    configuration (summarized again from points, whose matches are not saved); '' where it has none."""
    def key(r: dict) -> tuple:
        return r["method"], r.get("variant", ""), r["codebook_size"], r["bits"], r["sparsity"]

    saved = next((r.get("intervals") for r in document.get("summary", []) if key(r) == key(row)), None)
    if not saved or "change_ci95" not in saved:
        return ""
    low, high = (100 * v for v in saved["change_ci95"])
    return f"{100 * saved['change_vs_dense']:+.2f} pts [{low:+.2f}, {high:+.2f}], {saved['verdict']}"


def _method_label(row: dict) -> str:
    if row["method"] in ("sharekan", "kmeans"):
        return f"{row['method']} K={int(row['codebook_size']):,} {width_name(int(row['bits']))}"
    if row["method"] in ("uniform", "gptq"):
        return f"{row['method']} {int(row['bits'])}-bit"
    if row["method"] in ("prune", "pruning"):
        return f"pruned {row['sparsity']:.0%}"
    return "dense"


# One name and one colour per method on every chart (the method comparison's files call pruning 'prune').
METHOD_NAMES = {"prune": "pruning"}
METHOD_COLOURS = {"sharekan": "#d62728", "sharekan (data-aware)": "#ff9896", "dense": "#222222",
                  "pruning": "#1f77b4", "kmeans": "#ff7f0e", "uniform": "#2ca02c", "gptq": "#9467bd"}
SPARE_COLOURS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
METHOD_NOTES = {
    "sharekan": "each edge's spline is split into a bias, a gain and a unit shape; the shapes are clustered into a "
                "codebook of K, and each edge keeps an index, a gain and a bias.",
    "sharekan (data-aware)": "SHARe-KAN fitted on a calibration sample of real inputs: shapes, gains and biases "
                             "minimise the error of each edge's output on those inputs instead of the error of "
                             "its coefficients.",
    "kmeans": "k-means over each edge's raw coefficient vectors (MetaCluster-style): an edge stores only an index "
              "into K coefficient vectors, with no gain or bias of its own.",
    "uniform": "round-to-nearest uniform quantization of every spline coefficient and base weight at the bit-width "
               "shown (one minimum and step per output row).",
    "gptq": "GPTQ (Frantar et al., 2022): the same levels as uniform, but the weights are rounded one column at a "
            "time and each rounding error is pushed onto the columns not yet rounded, using calibration inputs.",
    "pruning": "magnitude pruning: the share of edges shown, those with the smallest spline norm, is dropped in each "
               "layer; the kept edges are stored with a mask of which were kept.",
    "dense": "the uncompressed FP32 model.",
}


def method_display_name(name: str) -> str:
    """The one name a method has on every chart and table."""
    return METHOD_NAMES.get(name, name)


def method_colours(names) -> dict:
    """An Altair colour scale (domain, range) giving each method in ``names`` its one colour."""
    domain = sorted(set(names), key=lambda name: (name not in METHOD_COLOURS, list(METHOD_COLOURS).index(name)
                                                  if name in METHOD_COLOURS else 0, name))
    spare = iter(SPARE_COLOURS * (1 + len(domain) // len(SPARE_COLOURS)))
    return {"domain": domain, "range": [METHOD_COLOURS.get(name) or next(spare) for name in domain]}


def method_notes(names) -> str:
    """One short explanation per method in ``names``, in the colour scale's order."""
    return " ".join(f"**{name}**: {METHOD_NOTES[name]}" for name in method_colours(names)["domain"]
                    if name in METHOD_NOTES)


def metric_domain(frame: pd.DataFrame, *extra: pd.Series, keep: float = 0.9) -> list[float]:
    """A y-axis range for a sweep's chart that shows the SHARe-KAN points apart: it holds every SHARe-KAN and
    dense point (error bars included), every other point that keeps at least ``keep`` of the dense metric,
    and ``extra`` values (this session's runs); the rest are drawn off-scale on its edge."""
    dense = frame.loc[frame["method"] == "dense", "metric_mean"]
    core = frame["method"].str.startswith("sharekan") | (frame["method"] == "dense")
    if len(dense):
        core |= frame["metric_mean"] >= keep * float(dense.max())
    values = pd.concat([frame.loc[core, "metric_low"], frame.loc[core, "metric_high"],
                        *[series for series in extra if len(series)]])
    values = values if len(values) else pd.concat([frame["metric_low"], frame["metric_high"]])
    low, high = float(values.min()), float(values.max())
    pad = max((high - low) * 0.08, 1e-3 * abs(high), 1e-6)
    return [low - pad, high + pad]


def on_scale(frame: pd.DataFrame, domain: list[float]) -> pd.DataFrame:
    """``frame`` with ``off_scale`` (the mean lies outside ``domain``) and the mean and error-bar ends clipped
    to it (``shown_mean``, ``shown_low``, ``shown_high``), so an off-scale point sits on the axis's edge."""
    low, high = domain
    frame = frame.copy()
    frame["off_scale"] = (frame["metric_mean"] < low) | (frame["metric_mean"] > high)
    for column in ("mean", "low", "high"):
        frame[f"shown_{column}"] = frame[f"metric_{column}"].clip(low, high)
    return frame


def off_scale_words(frame: pd.DataFrame) -> str:
    """The points drawn off-scale (as triangles on the axis's edge), with their measured values; '' if none."""
    off = frame[frame["off_scale"]]
    if off.empty:
        return ""
    points = ", ".join(f"{row.label} ({row.metric_mean:.3f})" for row in off.itertuples())
    return (f"Off the scale, drawn as triangles on the bottom edge so the points that keep most of the dense "
            f"score stay readable: {points}.")


def paper_applies(task: str | None, metadata: dict | None) -> bool:
    """Whether the paper's PASCAL VOC detection-head figures apply to this model: a detection head for the
    VOC classes (the only kind the paper measured)."""
    return task == "detection" and (metadata or {}).get("labels", "voc") == "voc"


def paper_frame() -> pd.DataFrame:
    """The paper's two published points (label, MB, detail), labelled as references not measured here."""
    return pd.DataFrame(PAPER_POINTS)


def transfer_frame(document: dict) -> pd.DataFrame:
    """One row per codebook configuration: model B's metric dense, with its own codebook and with A's; with
    bootstrap intervals and the fidelity measure where the document has them."""
    rows = []
    for row in sorted(document["rows"], key=lambda r: (r["config"]["codebook_size"], -r["config"]["bits"])):
        config = row["config"]
        moved = row.get("intervals", {}).get("transferred_codebook", {})
        shown = {
            "K": config["codebook_size"], "bits": width_name(config["bits"]),
            "B dense": row["target_dense"],
            "B, its own codebook": row["target_own_codebook"],
            "B, A's codebook (zero-shot)": row["target_transferred_codebook"],
            "zero-shot against dense": retention_words(row["retained_fraction_of_dense"], moved.get("retained_ci95")),
        }
        fidelity = row.get("fidelity", {}).get("transferred_codebook")
        if fidelity is not None:
            shown["zero-shot, agreement with B's dense head"] = (
                f"{fidelity['map50']:.3f} ({interval_words(fidelity['ci95'], percent=False)})")
        rows.append(shown | {"coef rel. L2, own": row["coef_rel_l2_own"],
                             "coef rel. L2, A's": row["coef_rel_l2_transferred"]})
    return pd.DataFrame(rows)


def interval_words(interval: list[float], percent: bool = True) -> str:
    """A bootstrap interval as '95% CI low–high'."""
    low, high = interval
    return f"95% CI {low:.1%}–{high:.1%}" if percent else f"95% CI {low:.3f}–{high:.3f}"


def retention_words(fraction: float, interval: list[float] | None = None) -> str:
    """A zero-shot score as a share of the dense one; never a gain (the codebook was not fitted to the target, so
    a higher score is the metric's noise). With a bootstrap ``interval`` of the share: no measurable loss when it
    includes 100%, else the share retained, each with the interval; without one, no measurable loss at or above
    100%."""
    if interval is None:
        return "no measurable loss" if fraction >= 1.0 else f"{fraction:.1%} retained"
    if interval[1] >= 1.0:
        return f"no measurable loss ({interval_words(interval)})"
    return f"{fraction:.1%} retained ({interval_words(interval)})"


def reference_support(files) -> dict | None:
    """How many teacher boxes, on how many held-out photos, back a detection metric measured against the
    reference in ``files`` (a ``DetectorFiles``); None when its file cannot be read."""
    import json

    try:
        images = json.loads(files.reference_path.read_text())["images"]
        return {"boxes": sum(len(image["detections"]) for image in images), "photos": len(images)}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def transfer_reference(document: dict, files) -> dict | None:
    """The teacher boxes behind a detection transfer's metric (see ``reference_support``): the reference of the
    label set its target head (a file in ``files.detector_dir``) predicts; None for other transfers."""
    path = files.detector_dir / str(document.get("target", ""))
    if not document.get("target") or not path.is_file():
        return None
    try:
        metadata = _head_metadata(str(path), path.stat().st_mtime_ns)
        return reference_support(files.for_model(metadata)) if metadata.get("task") == "detection" else None
    except SharekanError:  # an unreadable head or an unknown label set: nothing to count
        return None


@lru_cache(maxsize=8)
def _head_metadata(path: str, mtime_ns: int) -> dict:
    from ..io import read_model

    return read_model(path).metadata


def transfer_caveat(document: dict, support: dict | None) -> str:
    """What a transfer table's retention rests on: the teacher boxes behind a detection metric, and what a
    zero-shot score above the dense one means."""
    above = any(row["retained_fraction_of_dense"] >= 1.0 for row in document["rows"])
    words = []
    if support is not None:
        words.append(f"These detection scores are measured against {support['boxes']:,} teacher boxes on "
                     f"{support['photos']:,} held-out photos"
                     + (f": with so few, each box is {1 / support['boxes']:.0%} of them, and one box found or "
                        "missed moves the score by points, so differences of that size are noise."
                        if support["boxes"] < 50 else "."))
    if above:
        words.append("Where B with A's codebook scores at or above B dense, the table says no measurable loss: the "
                     "codebook was not fitted to B, so a higher score is the metric's noise, not a gain.")
    first = document["rows"][0] if document["rows"] else {}
    if "intervals" in first:
        bootstrap = first["intervals"]["bootstrap"]
        words.append(f"Intervals: {bootstrap['level']:.0%} bootstrap over the {bootstrap['over']} "
                     f"({bootstrap['resamples']:,} seeded resamples); an interval that includes 100% is no measurable "
                     "loss.")
    if "fidelity" in first:
        words.append(f"The agreement-with-B's-dense-head column is a fidelity measure against "
                     f"{first['fidelity']['dense_boxes']:,} of B's own dense boxes (score >= 0.3), not the teacher: "
                     "it needs no labels, and is only as steady as the number of those boxes.")
    return " ".join(words)


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
    """This session's compressions of the model whose task metric is ``label``: run, MB, metric, a text label
    (for tooltips and the list under the chart) and ``mark``, the short text drawn beside the point: its run
    number, or the numbers of every run drawn at the same place ('1, 3'), so labels never pile up."""
    rows = [{"run": number, "MB": run.result.storage.compressed_bytes / 1e6, "metric_mean": run.scores.compressed,
             "label": f"run {number}: {method_name(run.config)}"
                      + (f" K={run.config.codebook_size:,}, {bits_label(run.config)}"
                         if hasattr(run.config, "codebook_size") else "")}
            for number, run in enumerate(runs, start=1)
            if run.model_key == model_key and run.scores is not None and run.scores.label == label]
    frame = pd.DataFrame(rows, columns=["run", "MB", "metric_mean", "label"])
    spots = list(zip(frame["MB"].round(6), frame["metric_mean"].round(6)))
    together: dict[tuple, list[int]] = {}
    for run, spot in zip(frame["run"], spots):
        together.setdefault(spot, []).append(run)
    frame["mark"] = [", ".join(map(str, together[spot])) if together[spot][0] == run else ""
                     for run, spot in zip(frame["run"], spots)]
    return frame


def runs_not_drawn(runs: list[CompressionRun], model_key: str, label: str) -> str:
    """Why some of this session's runs of the model are not on a chart of ``label``; '' when all are."""
    mine = [run for run in runs if run.model_key == model_key]
    unmeasured = sum(run.scores is None for run in mine)
    other = sum(run.scores is not None and run.scores.label != label for run in mine)
    words = []
    if unmeasured:
        words.append(f"{unmeasured} run{'s' * (unmeasured > 1)} compressed without measuring task quality "
                     f"{'have' if unmeasured > 1 else 'has'} no point to draw")
    if other:
        words.append(f"{other} run{'s' * (other > 1)} measured with another metric {'are' if other > 1 else 'is'} "
                     "not drawn")
    return ("Not on this chart: " + "; ".join(words) + ".") if words else ""


def runs_metric_label(runs: list[CompressionRun], model_key: str) -> str | None:
    """The task metric of this session's latest measured run of the model (what a chart of runs alone plots)."""
    measured = [run for run in runs if run.model_key == model_key and run.scores is not None]
    return measured[-1].scores.label if measured else None


def storage_domain(*sizes: pd.Series, margin: float = 1.25) -> list[float]:
    """A log-scale axis domain in MB that just holds every value of ``sizes`` (with a small margin)."""
    values = pd.concat([series for series in sizes if len(series)])
    values = values[values > 0]
    return [float(values.min()) / margin, float(values.max()) * margin]


def bits_order(bits: pd.Series) -> list[str]:
    """The distinct bit-widths as text, in numeric order (4, 8, 16, 32), for a chart legend."""
    return sorted({str(value) for value in bits if str(value).isdigit()}, key=int) + \
        sorted({str(value) for value in bits if not str(value).isdigit()})
