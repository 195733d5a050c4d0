"""Process-wide settings the studio applies once, and small timing helpers for its pages."""
from __future__ import annotations

import os
import statistics
import time

import torch


def configure_threads() -> int:
    """Use half the cores for torch: on a small shared host, oversubscribed threads are slower than fewer."""
    threads = max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(threads)
    return threads


def median_forward_ms(module: torch.nn.Module, inputs: torch.Tensor, repeats: int = 5) -> float:
    """Median wall time of ``module(inputs)`` in milliseconds, after one warm-up call."""
    with torch.no_grad():
        module(inputs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            module(inputs)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
