"""Sizes of stored values: bit-packing of unsigned integers at any width from 1 to 32 bits (big-endian
bit order), bits per index, bytes per float32, and totals of per-layer byte tables."""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

FP32 = 4  # bytes per float32 value


def total_bytes(table: Mapping[str, Mapping[str, int]]) -> int:
    """Sum of a byte table (layer label -> component -> bytes)."""
    return sum(sum(row.values()) for row in table.values())


def packed_nbytes(count: int, bits: int) -> int:
    """Bytes needed to hold ``count`` values of ``bits`` bits."""
    return math.ceil(count * bits / 8)


def index_bits(codebook_size: int) -> int:
    """Bits per index for a codebook of ``codebook_size`` entries: ceil(log2 K), at least 1."""
    return max(1, math.ceil(math.log2(codebook_size)))


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack non-negative integers < 2**bits into a uint8 array of ``packed_nbytes`` bytes."""
    values = np.asarray(values).reshape(-1)
    if bits == 8:
        return values.astype(np.uint8)
    # numpy has no n-bit packing; expand to a bit matrix, keep the low ``bits`` columns, repack.
    bit_matrix = np.unpackbits(values.astype(">u4").view(np.uint8).reshape(-1, 4), axis=1)
    return np.packbits(bit_matrix[:, 32 - bits:].reshape(-1))


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of ``pack_bits``: return ``count`` values as int64."""
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if bits == 8:
        return packed[:count].astype(np.int64)
    bit_matrix = np.unpackbits(packed, count=count * bits).reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))
    return bit_matrix.astype(np.int64) @ weights
