"""Uniform quantization of one component to 32, 16, 8 or 4 bits.

32 bits keeps float32, 16 bits stores float16, and 8/4 bits store unsigned codes with an
affine (minimum, step) pair per group. ``grouping`` picks the groups of a 2-D tensor:
'rows' (one pair per row: per-output gains, biases and base weights) or 'columns' (one pair
per column: codebooks, where a pair per codeword would cost 8 bytes on top of D code bytes
and a pair per coefficient column costs 8 D bytes for the whole codebook). Tensors of any
other rank form one group. The pairs are stored in float32 and counted in storage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SharekanError
from .packing import pack_bits, packed_nbytes, unpack_bits

FLOAT16_MAX = float(np.finfo(np.float16).max)
GROUPINGS = ("rows", "columns")


@dataclass(frozen=True)
class QuantizedTensor:
    """A tensor stored at ``bits`` bits: ``payload`` bytes plus per-group (minimum, step) if integer."""

    bits: int
    shape: tuple[int, ...]
    payload: np.ndarray                 # float32, float16 or packed uint8 (codes in row-major order)
    minimum: np.ndarray | None = None   # (groups,) float32, integer codes only
    step: np.ndarray | None = None      # (groups,) float32, integer codes only
    grouping: str = "rows"              # 'rows' or 'columns' of a 2-D tensor (see module docstring)

    @property
    def nbytes(self) -> int:
        """Exact stored bytes, affine parameters included."""
        extra = 0 if self.minimum is None else self.minimum.nbytes + self.step.nbytes
        return int(self.payload.nbytes) + extra

    def codes(self) -> np.ndarray:
        """The integer codes (8/4 bits) as uint8 in ``shape``; 4-bit codes are unpacked one per byte."""
        if self.bits >= 16:
            raise SharekanError(f"a {self.bits}-bit tensor holds floats, not codes")
        count = int(np.prod(self.shape))
        return unpack_bits(self.payload, self.bits, count).astype(np.uint8).reshape(self.shape)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(minimum, step) broadcastable against ``shape``: (rows, 1), (1, cols) or (1,)."""
        if self.minimum is None:
            raise SharekanError(f"a {self.bits}-bit tensor has no affine parameters")
        if len(self.shape) != 2:
            return self.minimum, self.step
        if self.grouping == "columns":
            return self.minimum[None, :], self.step[None, :]
        return self.minimum[:, None], self.step[:, None]

    def dequantize(self) -> np.ndarray:
        """Return the float32 values this tensor represents."""
        if self.bits >= 16:
            return self.payload.astype(np.float32).reshape(self.shape)
        codes = self.codes().reshape(self.shape if len(self.shape) == 2 else (-1,))
        minimum, step = self.affine()
        values = minimum + codes.astype(np.float32) * step
        return values.astype(np.float32).reshape(self.shape)


def quantize(values: np.ndarray, bits: int, name: str = "tensor", grouping: str = "rows") -> QuantizedTensor:
    """Quantize ``values`` at ``bits`` bits, one affine pair per row or per column of a 2-D tensor."""
    values = np.asarray(values, dtype=np.float64)
    shape = tuple(values.shape)
    if grouping not in GROUPINGS:
        raise SharekanError(f"grouping must be one of {', '.join(GROUPINGS)}, got {grouping!r}")
    if not np.isfinite(values).all():
        raise SharekanError(f"{name} contains NaN or Inf values")
    if bits == 32:
        return QuantizedTensor(32, shape, values.astype(np.float32), grouping=grouping)
    if bits == 16:
        if values.size and np.abs(values).max() > FLOAT16_MAX:
            raise SharekanError(f"{name} has values beyond float16 range (|x| > {FLOAT16_MAX:g}); use 32 bits")
        return QuantizedTensor(16, shape, values.astype(np.float16), grouping=grouping)
    if values.ndim != 2:
        groups = values.reshape(1, -1)
    else:
        groups = values.T if grouping == "columns" else values
    levels = (1 << bits) - 1
    low = groups.min(axis=1, initial=0.0) if groups.shape[1] == 0 else groups.min(axis=1)
    high = groups.max(axis=1, initial=0.0) if groups.shape[1] == 0 else groups.max(axis=1)
    low32 = low.astype(np.float32)
    step32 = ((high - low) / levels).astype(np.float32)
    safe_step = np.where(step32 > 0, step32, 1.0).astype(np.float64)
    codes = np.rint((groups - low32[:, None]) / safe_step[:, None])
    codes = np.clip(codes, 0, levels).astype(np.int64)
    if values.ndim == 2 and grouping == "columns":
        codes = codes.T
    return QuantizedTensor(bits, shape, pack_bits(codes, bits), low32, step32, grouping)


def quantized_nbytes(count: int, groups: int, bits: int) -> int:
    """Bytes ``quantize`` uses for ``count`` values in ``groups`` groups: the accounting formula."""
    if bits >= 16:
        return count * bits // 8
    return packed_nbytes(count, bits) + groups * 8
