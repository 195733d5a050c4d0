"""Wall-clock timing: interleaved rounds, and one definition of median and quartiles for every bench and page.

Forms are timed in rounds that call each form once in turn, so load from elsewhere on the host falls on
every form alike. Quartiles are numpy's default percentiles (linear interpolation between order
statistics, the same as ``statistics.quantiles(method="inclusive")``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Hashable, Mapping

import numpy as np


@dataclass(frozen=True)
class Timings:
    """One form's samples (milliseconds per call) and what its last call returned."""

    samples_ms: tuple[float, ...]
    last: object = None

    @property
    def median_ms(self) -> float:
        return quartiles(self.samples_ms)[1]

    def summary(self) -> dict:
        """``median_ms``, ``q1_ms``, ``q3_ms``, ``iqr_ms`` and ``calls`` (the number of samples)."""
        return summary(self.samples_ms)


def quartiles(samples_ms) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of ``samples_ms``: the project's one quartile definition."""
    q1, median, q3 = np.percentile(np.asarray(samples_ms, dtype=float), [25, 50, 75])
    return float(q1), float(median), float(q3)


def summary(samples_ms) -> dict:
    """Median, quartiles and interquartile range (ms) of timing samples, and how many there are."""
    q1, median, q3 = quartiles(samples_ms)
    return {"median_ms": median, "q1_ms": q1, "q3_ms": q3, "iqr_ms": q3 - q1, "calls": len(samples_ms)}


def mean_ms(call: Callable[[], object], calls: int = 1) -> tuple[float, object]:
    """Mean milliseconds of ``calls`` consecutive calls of ``call``, and what the last one returned."""
    start = time.perf_counter()
    for _ in range(calls):
        returned = call()
    return (time.perf_counter() - start) * 1e3 / calls, returned


def interleaved(forms: Mapping[Hashable, Callable[[], object]], min_rounds: int, budget_s: float = 0.0,
                max_rounds: int | None = None, warmup: bool = True,
                calls: Mapping[Hashable, int] | None = None) -> dict[Hashable, Timings]:
    """Time each form in rounds that call every form once in turn; one sample per form and round.

    At least ``min_rounds`` rounds, then more while ``budget_s`` seconds have not passed (and fewer than
    ``max_rounds``). ``warmup`` calls each form once first, untimed (JIT compilation, allocator, caches).
    A sample is the mean over ``calls[form]`` consecutive calls (default one).
    """
    if warmup:
        for call in forms.values():
            call()
    samples: dict[Hashable, list[float]] = {name: [] for name in forms}
    last: dict[Hashable, object] = {}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() - start < budget_s
                                  and (max_rounds is None or rounds < max_rounds)):
        for name, call in forms.items():
            sample, last[name] = mean_ms(call, calls[name] if calls else 1)
            samples[name].append(sample)
        rounds += 1
    return {name: Timings(tuple(values), last.get(name)) for name, values in samples.items()}


def speed_words(dense_ms: float, compressed_ms: float) -> str:
    """'N.N x faster' or 'N.N x slower': the compressed head's speed against the dense head's, in words."""
    ratio = dense_ms / compressed_ms
    return f"{ratio:.1f} x faster" if ratio >= 1 else f"{1 / ratio:.1f} x slower"
