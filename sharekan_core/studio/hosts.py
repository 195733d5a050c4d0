"""Which host each Runtime figure comes from, and why the eager and ExecuTorch timings can disagree."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from ..costs.cache_residency import host_caches

CPUINFO = Path("/proc/cpuinfo")

EAGER_VS_PROGRAM = (
    "**Why eager and .pte timings can disagree.** Eager latency runs the compressed head in this Python process "
    "through the fused numba kernels, which read each edge's index, gain and bias and evaluate the shared codeword "
    "without rebuilding a dense weight. The .pte program runs the same compressed head as a graph of ExecuTorch's "
    "portable operators (dequantize, gather, multiply and add, one tensor at a time); nothing fuses them, so it "
    "touches more memory than the numba kernel does, while the dense .pte is one matrix product that XNNPACK "
    "runs well. So a compressed head can be faster than dense in eager and slower as a .pte: the .pte figures say "
    "what ExecuTorch's stock operators do with the compressed format on this host, not what the format allows.")


def cache_words(caches: dict[str, int]) -> str:
    """'L1d 32 KiB, L2 1 MiB, L3 32 MiB' for ``caches`` (bytes by level); 'unknown caches' when empty."""
    if not caches:
        return "unknown caches"
    return ", ".join(f"{name} {size / 2**20:g} MiB" if size >= 2**20 else f"{name} {size / 2**10:g} KiB"
                     for name, size in caches.items())


def this_host() -> str:
    """This host in words: its processor model (or architecture), core count and caches."""
    model = platform.machine() or "unknown processor"
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count() or '?'} cores, {cache_words(host_caches())}"


def saved_host_words(saved_host: dict, caches: dict[str, int] | None = None) -> str:
    """Where a saved measurement was taken, said against this host: the same caches, or different ones."""
    here = host_caches() if caches is None else caches
    there = {name: int(size) for name, size in (saved_host.get("caches") or {}).items()}
    if there and there == here:
        return f"Measured by bench/working_set.py on a host with the same caches as this one ({cache_words(there)})."
    return (f"Measured by bench/working_set.py on another host ({saved_host.get('processor', 'unknown processor')}, "
            f"{cache_words(there)}), not on this one ({cache_words(here)}); where a working set crosses a cache "
            "boundary the curve bends at a different size here. Run `python bench/working_set.py` on this host to "
            "measure it here.")
