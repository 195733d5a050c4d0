"""The Compress page's view model: choices offered, the per-session run record, and result tables."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pandas as pd

from ..compression import CompressionConfig
from ..progress import Progress
from ..ranges import MAX_CODEBOOK, MAX_SEED, MIN_CODEBOOK
from ..format.accounting import sharekan_bytes as predicted_bytes  # noqa: F401 (the Compress page's prediction)
from ..model import KAN
from ..results import CompressionResult, compress_and_measure
from .evaluation import EvaluationSet, measure_for, score
from .models import format_bytes

# The page's choices and defaults are SHARe-KAN's config's own (its ``choices`` and field defaults).
DEFAULTS = CompressionConfig()
BIT_CHOICES: tuple[int, ...] = CompressionConfig.choices["bits"]
SCOPE_CHOICES: tuple[str, ...] = CompressionConfig.choices["scope"]
COMPONENT_WIDTHS = {"codebook_bits": "Codebook", "gain_bits": "Gains", "bias_bits": "Biases",
                    "base_bits": "Base weights"}  # the config's per-component width fields, as the page names them


@dataclass(frozen=True)
class TaskScores:
    """The task metric of the dense model and of its compressed form, measured the same way."""

    label: str
    dense: float
    compressed: float
    dense_text: str
    compressed_text: str
    compressed_text_delta: str  # the change from dense, as the metric is written
    higher_is_better: bool = True


@dataclass(frozen=True)
class CompressionRun:
    """One user's compression: which model, the config, the measured result, how long it took, and the task
    metric before and after (when measured)."""

    model_key: str
    model_label: str
    config: CompressionConfig
    result: CompressionResult
    seconds: float
    scores: TaskScores | None = None

    @property
    def file_name(self) -> str:
        """Download name: the model's label reduced to a slug plus K and the stored widths (``width_slug``)."""
        slug = "".join(ch if ch.isalnum() else "-" for ch in self.model_label.lower()).strip("-")
        slug = "-".join(part for part in slug.split("-") if part)[:40] or "model"
        return f"{slug}-K{self.config.codebook_size}-{width_slug(self.config)}.sharekan.safetensors"


def width_name(bits: int) -> str:
    """How a bit-width reads in the studio: FP32, FP16, Int8, Int4."""
    return f"FP{bits}" if bits >= 16 else f"Int{bits}"


def stored_widths(config: CompressionConfig) -> list[int]:
    """Every bit-width a compression with ``config`` stores (any layer, any component), narrowest first."""
    layers = list(range(len(config.layer_bits))) if config.layer_bits else [None]
    if config.scope == "global" and config.layer_bits:
        layers.append(None)  # the shared codebook takes the model-wide width
    return sorted({bits for layer in layers for name, bits in config.component_bits(layer).items()
                   if layer is not None or name == "codebook" or not config.layer_bits})


def width_slug(config: CompressionConfig) -> str:
    """The widths as a file name says them: 'int8', 'fp16', or 'mixed-int4-int8' when they differ."""
    names = [width_name(bits).lower() for bits in stored_widths(config)]
    return names[0] if len(names) == 1 else "-".join(["mixed", *names])


def bits_label(config: CompressionConfig) -> str:
    """'Int8' when every component shares one width, else each component's width: 'codebook FP16, gains Int4, ...';
    per-layer widths are listed layer by layer."""
    if config.layer_bits is not None and len(set(config.layer_bits)) > 1:
        return "; ".join(f"layer {index}: {bits_label(replace(config, bits=width, layer_bits=None))}"
                         for index, width in enumerate(config.layer_bits))
    widths = config.component_bits(0 if config.layer_bits else None)
    if len(set(widths.values())) == 1:
        return width_name(widths["codebook"])
    return ", ".join(f"{component.replace('_', ' ')} {width_name(bits)}" for component, bits in widths.items())


def codebook_size_choices(edges: int) -> list[int]:
    """Powers of two from the smallest allowed K up to the first one covering every edge (capped)."""
    sizes, size = [], MIN_CODEBOOK
    while size <= MAX_CODEBOOK:
        sizes.append(size)
        if size >= edges:
            break
        size *= 2
    return sizes


def run_compression(model: KAN, model_key: str, model_label: str, config: CompressionConfig,
                    progress: Progress | None = None, metadata: dict | None = None) -> CompressionRun:
    """Compress and measure ``model``; returns the record a page keeps in its session."""
    start = time.perf_counter()
    result = compress_and_measure(model, config, progress, metadata)
    return CompressionRun(model_key, model_label, config, result, time.perf_counter() - start)


_DENSE_SCORES: dict[tuple[str, str, str], float] = {}  # (model key, metric label, evaluation set key) -> dense score


def measure_run(run: CompressionRun, model: KAN, task: str | None, evaluation: EvaluationSet | None,
                progress: Progress | None = None, metadata: dict | None = None) -> CompressionRun:
    """``run`` with its task quality: the dense model's and the compressed model's score on the model's task,
    the user's evaluation set, or output fidelity (see ``evaluation.measure_for``)."""
    measure = measure_for(model, task, evaluation, metadata)
    label = measure.metric.label
    cache_key = (run.model_key, label, evaluation.key if evaluation is not None else "")
    if cache_key not in _DENSE_SCORES:
        _DENSE_SCORES[cache_key] = score(measure, model, task, _stage(progress, 0.0, 0.5, "dense model"))
    dense = _DENSE_SCORES[cache_key]
    compressed = score(measure, run.result.reconstructed, task, _stage(progress, 0.5, 1.0, "compressed model"))
    delta = measure.format_change(compressed - dense, dense)
    return replace(run, scores=TaskScores(label, dense, compressed, measure.format(dense), measure.format(compressed),
                                          delta, measure.higher_is_better))


def _stage(progress: Progress | None, start: float, end: float, what: str) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (end - start) * fraction, f"{what}: {message}")


def fidelity_words(run: CompressionRun) -> str:
    """What the two fidelity numbers mean, in words, with this run's values."""
    numbers = headline(run)
    coef, function = numbers["coef_rel_l2"], numbers["function_rel_rms"]
    return (f"**Reading the errors.** Coefficient rel. L2 {coef:.4f} means the stored spline coefficients are off "
            f"by about {coef:.0%} of their size; spline function rel. RMS {function:.4f} means each edge's curve "
            f"moves by about {function:.0%} of its typical height. 0 is exact and 1 is as large as the spline "
            "itself. The two are whole-model ratios, so a few badly fitted edges can dominate them while the "
            "model still works: the task quality above is what tells you whether the compressed model is good "
            "enough.")


def ratio_words(dense_bytes: float, compressed_bytes: float) -> str:
    """'2.5× smaller' or '1.6× larger': ``compressed_bytes`` against ``dense_bytes``, in words."""
    ratio = dense_bytes / compressed_bytes
    return f"{ratio:,.1f}× smaller" if ratio >= 1 else f"{1 / ratio:,.1f}× larger"


def size_warning(run: CompressionRun) -> str | None:
    """A plain warning when the compressed file on disk (or its tensors alone) is not smaller than the dense
    model's FP32 tensors; None when it is."""
    numbers = headline(run)
    dense, tensors, file = numbers["dense_bytes"], numbers["compressed_bytes"], numbers["file_bytes"]
    if file < dense:
        return None
    what = "the compressed file and even its tensors alone are" if tensors >= dense else "the compressed file is"
    return (f"This compression makes the model bigger: {what} larger than the dense model "
            f"({format_bytes(file)} on disk, {format_bytes(tensors)} of tensors, against {format_bytes(dense)} "
            "dense FP32). In a model this small the codebook, the quantization ranges, the knots and the file's "
            "JSON header cost more than the splines they replace; a smaller K or fewer bits shrinks it, and "
            "larger models gain the most.")


def codebook_notes(run: CompressionRun) -> list[str]:
    """Plain-words notes where a codebook holds fewer shapes than the K asked for."""
    notes = []
    compressed = run.result.compressed
    asked = run.config.codebook_size
    for codebook_id, codebook in enumerate(compressed.codebooks):
        users = [layer for layer in compressed.layers if layer.codebook_id == codebook_id]
        edges = sum(layer.num_edges for layer in users)
        kept = int(codebook.shape[0])
        if kept < asked:
            where = "the shared codebook" if run.config.scope == "global" else f"layer {codebook_id}"
            notes.append(f"K = {asked:,} is more than {where} can use: it has {edges:,} edges and "
                         f"{kept:,} distinct shapes, so its codebook holds {kept:,} shapes "
                         f"(every edge keeps its own shape; the only loss is quantization).")
    return notes


def headline(run: CompressionRun) -> dict:
    """The numbers shown as metrics: dense, compressed and file bytes, ratio and errors."""
    report = run.result.report()
    return {
        "dense_bytes": report["dense_bytes"],
        "compressed_bytes": report["compressed_bytes"],
        "file_bytes": report["file_bytes"],
        "ratio": report["ratio"],
        "file_ratio": report["dense_bytes"] / report["file_bytes"],
        "coef_rel_l2": report["coef_rel_l2"],
        "function_rel_rms": report["function_rel_rms"],
        "seconds": run.seconds,
    }


def storage_frame(run: CompressionRun) -> pd.DataFrame:
    """Long table of compressed bytes: one row per (layer label, component) with a non-zero size."""
    rows = [{"layer": _layer_label(label), "component": component, "bytes": size}
            for label, parts in run.result.storage.compressed.items()
            for component, size in parts.items() if size]
    return pd.DataFrame(rows, columns=["layer", "component", "bytes"])


def dense_vs_compressed_frame(run: CompressionRun) -> pd.DataFrame:
    """Per layer, dense FP32 bytes against compressed bytes (a global codebook as its own row)."""
    storage = run.result.storage
    labels = list(storage.dense) + [label for label in storage.compressed if label not in storage.dense]
    rows = []
    for label in labels:
        rows.append({"layer": _layer_label(label), "form": "dense FP32", "bytes": sum(storage.dense.get(label, {}).values())})
        rows.append({"layer": _layer_label(label), "form": "SHARe-KAN", "bytes": sum(storage.compressed.get(label, {}).values())})
    return pd.DataFrame(rows)


def layer_fidelity_frame(run: CompressionRun) -> pd.DataFrame:
    """One row per layer: codebook size in use, index bits, ratio and the fidelity metrics."""
    rows = []
    for layer in run.result.report()["layers"]:
        rows.append({
            "layer": layer["layer"],
            "edges": layer["edges"],
            "codebook K": layer["codebook_size"],
            "index bits": layer["index_bits"],
            "dense KB": layer["dense_bytes"] / 1e3,
            "compressed KB": layer["compressed_bytes"] / 1e3,
            "coef R²": layer["coef_r2"],
            "coef rel. L2": layer["coef_rel_l2"],
            "function rel. RMS": layer["function_rel_rms"],
            "base weight rel. L2": layer["base_weight_rel_l2"],
        })
    return pd.DataFrame(rows)


def _layer_label(label: str) -> str:
    return "shared codebook" if label == "shared" else f"layer {label}"


def default_codebook_size(edges: int) -> int:
    """A sensible starting K: 4,096 (the paper's regime) for large models, about edges/8 for small ones."""
    choices = codebook_size_choices(edges)
    target = 4096 if edges >= 65_536 else max(16, edges // 8)
    return min(choices, key=lambda size: abs(size - target))
