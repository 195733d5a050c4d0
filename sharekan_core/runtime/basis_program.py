"""A compressed FastKAN, ChebyKAN or Gram net as an exportable program that holds its codes at their stored width
(indices packed at ceil(log2 K) bits, codebook, gains, biases and base weights at their bit-widths) and decodes them
on every call, as ``program.KANProgram`` does for B-spline KANs: its ``.pte`` is about the compressed file's size,
where ``CompressedBasisStack`` (float32 buffers, int64 indices) would export larger than the dense net."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..compression.basis_compressor import CompressedBasisLayer
from ..compression.basis_net import CompressedBasisKAN
from ..compression.packing import index_bits, pack_bits
from ..model.basis_kan import LayerChain, apply_basis, base_branch
from .dequantize import DequantizedTensor, PackedCodes


class BasisProgramLayer(nn.Module):
    """One layer: (B, in) -> (B, out), its coefficients decoded from the stored codes on every call."""

    def __init__(self, layer: CompressedBasisLayer):
        super().__init__()
        self.basis, self.output, self.base_activation = layer.basis, layer.output, layer.base_activation
        self.codebook = DequantizedTensor(layer.codebook)
        bits = index_bits(layer.codebook.shape[0])
        self.indices = PackedCodes(pack_bits(layer.indices, bits), bits, tuple(layer.indices.shape))
        self.gains, self.biases = DequantizedTensor(layer.gains), DequantizedTensor(layer.biases)
        self.base_weights = None if layer.base_weights is None else DequantizedTensor(layer.base_weights)
        self.register_buffer("base_bias", None if layer.base_bias is None else torch.from_numpy(layer.base_bias.copy()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decode (out, in, D) coefficients, apply the basis, add the base branch, apply the output module."""
        codewords = F.embedding(self.indices().to(torch.int64), self.codebook())
        coefficients = self.biases().unsqueeze(-1) + self.gains().unsqueeze(-1) * codewords
        weight = None if self.base_weights is None else self.base_weights()
        return apply_basis(self.basis(x), coefficients, base_branch(x, weight, self.base_bias, self.base_activation),
                           self.output)


class BasisProgram(LayerChain):
    """A compressed basis net as an exportable module, equal to its decompression: (B, in) -> (B, out)."""

    def __init__(self, compressed: CompressedBasisKAN):
        super().__init__([BasisProgramLayer(layer) for layer in compressed.layers], compressed.between)
