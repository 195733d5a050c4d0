"""Compile the fused kernels into numba's on-disk cache once, at install (``make`` runs it after ``pip install``):
``python -m sharekan_core.runtime.kernel_warmup``.

numba compiles each kernel once per combination of argument types (``fused_kernel.KERNELS``), which takes 10 to 30 s
on first use; warming them here, on a small synthetic KAN, covers the stored widths (4- and 8-bit codes, float16 and
float32 values), both index widths (up to 256 codewords and more) and every route (row, grouped, tile), so that the
first ``predict``, studio page or test run loads compiled code instead of compiling it.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import torch

from ..compression import compress
from ..compression.config import CompressionConfig
from ..model.kan import KAN, KANConfig
from .fused_kernel import FusedKAN, kernels_cached
from .routes import GROUPED_FROM_ROWS, TILE_FROM_ROWS

WIDTHS = (24, 20, 3)  # 480 edges in the first layer: room for a 300-codeword codebook (16-bit indices)


def warm_kernels() -> float:
    """Run every route of every stored width once; return the seconds it took."""
    started = time.perf_counter()
    torch.manual_seed(0)
    model = KAN(KANConfig(WIDTHS))
    inputs = np.random.default_rng(0).uniform(-1.2, 1.2, (TILE_FROM_ROWS, WIDTHS[0])).astype(np.float32)
    for codebook_size, bits in ((16, 8), (16, 4), (16, 16), (16, 32), (300, 8)):
        fused = FusedKAN.from_compressed(compress(model, CompressionConfig(codebook_size=codebook_size, bits=bits)))
        for rows in (1, GROUPED_FROM_ROWS, TILE_FROM_ROWS):
            fused(inputs[:rows])
    return time.perf_counter() - started


if __name__ == "__main__":
    cached = kernels_cached()
    seconds = warm_kernels()
    print(f"fused kernels {'checked' if cached else 'compiled'} in {seconds:.1f} s (numba's on-disk cache)",
          file=sys.stderr)
