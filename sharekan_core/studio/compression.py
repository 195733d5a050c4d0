"""The Compress page's view model: choices offered, the per-session run record, and result tables."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ..compress import CompressionConfig
from ..compress.compressor import Progress
from ..compress.config import MAX_CODEBOOK, MIN_CODEBOOK, SUPPORTED_BITS
from ..model import KAN
from ..results import CompressionResult, compress_and_measure

BIT_CHOICES: tuple[int, ...] = SUPPORTED_BITS


@dataclass(frozen=True)
class CompressionRun:
    """One user's compression: which model, the config, the measured result and how long it took."""

    model_key: str
    model_label: str
    config: CompressionConfig
    result: CompressionResult
    seconds: float

    @property
    def file_name(self) -> str:
        """Download name: the model's label reduced to a slug plus K and bits."""
        slug = "".join(ch if ch.isalnum() else "-" for ch in self.model_label.lower()).strip("-")
        slug = "-".join(part for part in slug.split("-") if part)[:40] or "model"
        return f"{slug}-K{self.config.codebook_size}-int{self.config.bits}.sharekan.safetensors"


def width_name(bits: int) -> str:
    """How a bit-width reads in the studio: FP32, FP16, Int8, Int4."""
    return f"FP{bits}" if bits >= 16 else f"Int{bits}"


def bits_label(config: CompressionConfig) -> str:
    """'Int8' when every component shares one width, else each component's width: 'codebook FP16, gains Int4, ...'."""
    widths = config.component_bits()
    if len(set(widths.values())) == 1:
        return width_name(config.bits)
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
