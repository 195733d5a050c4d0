"""Uniform quantization of one component to 32, 16, 8 or 4 bits.

32 bits keeps float32, 16 bits stores float16, and 8/4 bits store unsigned codes with an
affine (minimum, step) pair per group: one group per row for 2-D (out, in) tensors, one for
the whole tensor otherwise. The pairs are stored in float32 and counted in storage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SharekanError
from .packing import pack_bits, packed_nbytes, unpack_bits

FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class QuantizedTensor:
    """A tensor stored at ``bits`` bits: ``payload`` bytes plus per-group (minimum, step) if integer."""

    bits: int
    shape: tuple[int, ...]
    payload: np.ndarray                 # float32, float16 or packed uint8
    minimum: np.ndarray | None = None   # (groups,) float32, integer codes only
    step: np.ndarray | None = None      # (groups,) float32, integer codes only

    @property
    def nbytes(self) -> int:
        """Exact stored bytes, affine parameters included."""
        extra = 0 if self.minimum is None else self.minimum.nbytes + self.step.nbytes
        return int(self.payload.nbytes) + extra

    def dequantize(self) -> np.ndarray:
        """Return the float32 values this tensor represents."""
        if self.bits >= 16:
            return self.payload.astype(np.float32).reshape(self.shape)
        count = int(np.prod(self.shape))
        codes = unpack_bits(self.payload, self.bits, count).reshape(len(self.minimum), -1)
        values = self.minimum[:, None] + codes.astype(np.float32) * self.step[:, None]
        return values.astype(np.float32).reshape(self.shape)


def quantize(values: np.ndarray, bits: int, name: str = "tensor") -> QuantizedTensor:
    """Quantize ``values`` at ``bits`` bits (groups are rows of a 2-D tensor)."""
    values = np.asarray(values, dtype=np.float64)
    shape = tuple(values.shape)
    if not np.isfinite(values).all():
        raise SharekanError(f"{name} contains NaN or Inf values")
    if bits == 32:
        return QuantizedTensor(32, shape, values.astype(np.float32))
    if bits == 16:
        if values.size and np.abs(values).max() > FLOAT16_MAX:
            raise SharekanError(f"{name} has values beyond float16 range (|x| > {FLOAT16_MAX:g}); use 32 bits")
        return QuantizedTensor(16, shape, values.astype(np.float16))
    groups = values.reshape(shape[0], -1) if values.ndim == 2 else values.reshape(1, -1)
    levels = (1 << bits) - 1
    low = groups.min(axis=1, initial=0.0) if groups.shape[1] == 0 else groups.min(axis=1)
    high = groups.max(axis=1, initial=0.0) if groups.shape[1] == 0 else groups.max(axis=1)
    low32 = low.astype(np.float32)
    step32 = ((high - low) / levels).astype(np.float32)
    safe_step = np.where(step32 > 0, step32, 1.0).astype(np.float64)
    codes = np.rint((groups - low32[:, None]) / safe_step[:, None])
    codes = np.clip(codes, 0, levels).astype(np.int64)
    return QuantizedTensor(bits, shape, pack_bits(codes, bits), low32, step32)


def quantized_nbytes(count: int, groups: int, bits: int) -> int:
    """Bytes ``quantize`` uses for ``count`` values in ``groups`` groups: the accounting formula."""
    if bits >= 16:
        return count * bits // 8
    return packed_nbytes(count, bits) + groups * 8
