"""Stored codes held as module buffers and decoded on every forward call, in Core ATen ops only.

Holding the stored codes (not float copies) is what keeps the compressed runtime and its
``.pte`` small: 8-bit codes stay uint8, narrower codes stay in the file's packed bit stream.
Unpacking uses no shift or bitwise operator: those are outside the Core ATen opset that
ExecuTorch programs must use (``aten.__rshift__`` made every 4-bit export fail).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..compression.quantize import QuantizedTensor

WINDOW_BYTES = 3  # a 24-bit window holds any code of up to 16 bits at any bit offset, exactly in float32


class PackedCodes(nn.Module):
    """Unsigned ``bits``-bit codes (1 to 16) kept as their big-endian bit stream; ``forward()`` -> float32 ``shape``.

    The stream is read in groups of lcm(8, bits) bits (``group_bytes`` bytes holding ``per_group``
    whole codes). One matrix product (groups, group_bytes) @ (group_bytes, per_group) reads, for
    each code, the window of at most three bytes that holds it, already divided by the power of two
    that drops the bits after the code; floor and remainder then keep the code. Every value is an
    integer below 2**24 times a power of two, so float32 is exact.
    """

    def __init__(self, stream: np.ndarray, bits: int, shape: tuple[int, ...]):
        super().__init__()
        if not 1 <= bits <= 16:
            raise ValueError(f"packed codes must be 1 to 16 bits, got {bits}")
        self.bits, self.shape = bits, tuple(shape)
        self.count = math.prod(self.shape)
        stream = np.asarray(stream, dtype=np.uint8).reshape(-1)
        if bits == 8:  # the bytes are the codes
            self.register_buffer("stream", torch.from_numpy(stream[: self.count].reshape(self.shape).copy()))
            return
        group_bits = math.lcm(8, bits)
        group_bytes, self.per_group = group_bits // 8, group_bits // bits
        groups = -(-self.count // self.per_group)
        padded = np.zeros((groups, group_bytes), np.uint8)  # whole groups: fewer than group_bytes bytes of padding
        used = min(len(stream), (self.count * bits + 7) // 8)
        padded.reshape(-1)[:used] = stream[:used]
        self.register_buffer("stream", torch.from_numpy(padded))
        windows = torch.zeros(group_bytes, self.per_group, dtype=torch.float64)
        for code in range(self.per_group):
            first, offset = divmod(code * bits, 8)
            last = min(first + WINDOW_BYTES, group_bytes) - 1
            dropped = 8 * (last - first + 1) - offset - bits  # bits of the window after this code
            weights = 256.0 ** torch.arange(last - first, -1, -1, dtype=torch.float64) / 2 ** dropped
            windows[first:last + 1, code] = weights
        self.register_buffer("windows", windows.to(torch.float32))

    def forward(self) -> torch.Tensor:
        """Return the codes as float32 integers, in ``shape``."""
        if self.bits == 8:
            return self.stream.to(torch.float32)
        shifted = self.stream.to(torch.float32) @ self.windows  # (groups, per_group)
        codes = torch.remainder(torch.floor(shifted), float(1 << self.bits))
        if codes.numel() != self.count:  # drop the last group's padding codes
            codes = codes.reshape(-1)[: self.count]
        return codes.reshape(self.shape)


class DequantizedTensor(nn.Module):
    """A ``QuantizedTensor`` as buffers: floats for 32/16 bits, else ``PackedCodes`` plus per-row or per-column
    ``minimum``/``step``; ``forward()`` -> float32 in the stored shape."""

    def __init__(self, tensor: QuantizedTensor):
        super().__init__()
        self.bits = tensor.bits
        self.shape = tuple(tensor.shape)
        self.floats = tensor.minimum is None
        if self.floats:  # 32-bit float32 or 16-bit float16 values
            self.register_buffer("payload", torch.from_numpy(tensor.payload.reshape(self.shape).copy()))
            return
        # Codes keep the 2-D shape the affine broadcasts against (rows, 1) or (1, cols); other ranks are one group.
        self.codes = PackedCodes(tensor.payload, tensor.bits,
                                 self.shape if len(self.shape) == 2 else (math.prod(self.shape),))
        minimum, step = tensor.affine()
        self.register_buffer("minimum", torch.from_numpy(minimum.copy()))
        self.register_buffer("step", torch.from_numpy(step.copy()))

    def forward(self) -> torch.Tensor:
        """Return the float32 values, shape as stored."""
        if self.floats:
            return self.payload.to(torch.float32)
        values = self.minimum + self.codes() * self.step
        return values if len(self.shape) == 2 else values.reshape(self.shape)

