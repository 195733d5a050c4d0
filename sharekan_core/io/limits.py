"""Bounds every loader checks a file's declared sizes against before it allocates anything.

A file can declare shapes far larger than its own bytes (zero-size tensors, deflated zip
entries, a header's widths), so loaders compare what would be built with these limits first.
"""
from __future__ import annotations

from ..errors import SharekanError

MEMORY_BUDGET_BYTES = 1 << 30          # float32 bytes any one model may occupy once built
MAX_SPLINE_ORDER = 10                  # k; pykan and efficient-kan use 3
MAX_COEFFICIENTS = 1024                # D = G + k per edge
MAX_LAYERS = 1024


def kan_float_count(widths: tuple[int, ...], coefficients: int, order: int) -> int:
    """Float32 values a dense KAN of this shape holds: splines, base weights, scalers, grids, affines."""
    total = 0
    for in_f, out_f in zip(widths[:-1], widths[1:]):
        total += out_f * in_f * (coefficients + 2) + in_f * (coefficients + order + 1) + 2 * out_f
    return total


def check_kan_shape(widths: tuple[int, ...], coefficients: int, order: int, source: str) -> None:
    """Raise SharekanError unless widths, D and k are sane and the dense model fits the memory budget."""
    if not 2 <= len(widths) <= MAX_LAYERS + 1:
        raise SharekanError(f"{source}: a KAN needs 1 to {MAX_LAYERS:,} layers, found {len(widths) - 1}")
    for value in (*widths, coefficients, order):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SharekanError(f"{source}: sizes must be integers, found {value!r}")
    if min(widths) < 1:
        raise SharekanError(f"{source}: every layer width must be at least 1, found widths {list(widths)}")
    if not 0 <= order <= MAX_SPLINE_ORDER:
        raise SharekanError(f"{source}: spline order {order} is outside 0..{MAX_SPLINE_ORDER}")
    if not order + 1 <= coefficients <= MAX_COEFFICIENTS:
        raise SharekanError(f"{source}: {coefficients} coefficients per edge is outside "
                            f"{order + 1}..{MAX_COEFFICIENTS:,} for spline order {order}")
    check_budget(4 * kan_float_count(widths, coefficients, order), source, "the dense model")


def check_budget(nbytes: int, source: str, what: str) -> None:
    """Raise SharekanError if ``nbytes`` exceeds the memory budget, naming ``what`` would take it."""
    if nbytes > MEMORY_BUDGET_BYTES:
        raise SharekanError(f"{source}: {what} would take {nbytes / 2**20:,.0f} MiB, "
                            f"over the {MEMORY_BUDGET_BYTES / 2**20:,.0f} MiB limit")
