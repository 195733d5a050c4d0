"""The session's run history: every compression as one table row, two runs side by side, CSV export.

A run's method is read from its config's type, so another compression method (a ``UniformConfig``,
``GPTQConfig`` ...) appears under its own name without changes here.
"""
from __future__ import annotations

import numbers

import pandas as pd

from .compression import CompressionRun, bits_label, stored_widths, width_name

METHOD_NAMES = {"CompressionConfig": "SHARe-KAN", "sharekan": "SHARe-KAN"}  # display names where they differ
COLUMNS = ("run", "model", "method", "K", "bits", "compressed bytes", "ratio", "coef rel. L2",
           "function rel. RMS", "task metric", "dense task metric", "compressed task metric", "seconds")


def method_name(config: object) -> str:
    """The compression method a config runs: its ``method`` attribute, a known name, or its type minus 'Config'."""
    name = type(config).__name__
    method = str(getattr(config, "method", None) or METHOD_NAMES.get(name) or name.removesuffix("Config") or name)
    return METHOD_NAMES.get(method, method)


def bits_text(config: object) -> str:
    """Widths of the stored components: one name when they agree, else 'mixed (codebook Int8, ...)'; per-layer
    widths are said layer by layer."""
    if getattr(config, "layer_bits", None) is not None:
        widths = stored_widths(config)
        return width_name(widths[0]) if len(widths) == 1 else f"mixed ({bits_label(config)})"
    component_bits = getattr(config, "component_bits", None)
    widths = component_bits() if callable(component_bits) else {"all": getattr(config, "bits", 32)}
    if len(set(widths.values())) == 1:
        return width_name(next(iter(widths.values())))
    return "mixed (" + ", ".join(f"{name.replace('_', ' ')} {width_name(bits)}" for name, bits in widths.items()) + ")"


def history_row(number: int, run: CompressionRun) -> dict:
    """One row of the history table for ``run``, numbered from 1 in the order of compression."""
    report = run.result.report()
    scores = run.scores
    return {
        "run": number,
        "model": run.model_label,
        "method": method_name(run.config),
        "K": getattr(run.config, "codebook_size", None),
        "bits": bits_text(run.config),
        "compressed bytes": report["compressed_bytes"],
        "ratio": report["ratio"],
        "coef rel. L2": report["coef_rel_l2"],
        "function rel. RMS": report["function_rel_rms"],
        "task metric": scores.label if scores else "not measured",
        "dense task metric": scores.dense if scores else None,
        "compressed task metric": scores.compressed if scores else None,
        "seconds": run.seconds,
    }


def history_frame(runs: list[CompressionRun]) -> pd.DataFrame:
    """The history table: one row per run, oldest first."""
    return pd.DataFrame([history_row(number, run) for number, run in enumerate(runs, start=1)], columns=COLUMNS)


def history_csv(runs: list[CompressionRun]) -> bytes:
    """The history table as UTF-8 CSV bytes, for download."""
    return history_frame(runs).to_csv(index=False).encode()


def comparison_frame(runs: list[CompressionRun], first: int, second: int) -> pd.DataFrame:
    """Two runs (numbered from 1) side by side: one row per quantity, one column per run."""
    table = history_frame(runs).set_index("run")
    pair = table.loc[[first, second]].T.map(_readable)
    pair.columns = [f"run {first}", f"run {second}"]
    return pair.reset_index(names="quantity")


def _readable(value: object) -> str:
    """A table cell as text: integers with thousands separators, other numbers to 4 significant digits."""
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return "—" if value != value else f"{int(value):,}" if float(value).is_integer() else f"{float(value):.4g}"
    return "—" if value is None else str(value)
