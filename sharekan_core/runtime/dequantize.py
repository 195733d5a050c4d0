"""A quantized tensor held as module buffers and dequantized on every forward call.

Holding the stored codes (not float copies) is what keeps the compressed runtime and its
``.pte`` small: 8-bit codes stay uint8, 4-bit codes stay two to a byte.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..compress.quantize import QuantizedTensor


class DequantizedTensor(nn.Module):
    """Buffers ``payload`` (+ per-row or per-column ``minimum``/``step`` for 8/4 bits); ``forward()`` -> float32."""

    def __init__(self, tensor: QuantizedTensor):
        super().__init__()
        self.bits = tensor.bits
        self.shape = tuple(tensor.shape)
        if tensor.bits >= 16:
            self.register_buffer("payload", torch.from_numpy(tensor.payload.reshape(self.shape).copy()))
            return
        count = math.prod(self.shape)
        packed = torch.from_numpy(tensor.payload.copy())
        # A row's codes may straddle bytes when 4-bit rows have odd length; keep the flat stream then.
        self.register_buffer("payload", packed[: (count * tensor.bits + 7) // 8])
        minimum, step = tensor.affine()  # broadcast against the codes in their 2-D (or flat) shape
        self.register_buffer("minimum", torch.from_numpy(minimum.copy()))
        self.register_buffer("step", torch.from_numpy(step.copy()))
        self.count = count

    def forward(self) -> torch.Tensor:
        """Return the float32 values, shape as stored."""
        if self.bits >= 16:
            return self.payload.to(torch.float32)
        codes = self.payload
        if self.bits == 4:
            # packing is big-endian: the high nibble holds the earlier value.
            codes = torch.stack((codes >> 4, codes & 15), dim=-1).reshape(-1)[: self.count]
        codes = codes.to(torch.float32).reshape(self.shape if len(self.shape) == 2 else (-1,))
        return (self.minimum + codes * self.step).reshape(self.shape)
