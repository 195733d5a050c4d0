"""The compressed-domain forward of a global-basis KAN layer (FastKAN, ChebyKAN, Gram): decode each edge's
coefficients from its codeword, gain and bias, then take their dot product with the basis (a global basis has no
local support for a fused kernel to exploit). FastKAN's LayerNorm runs dense, inside the basis module; Gram's
LayerNorm and activation after the sum run dense, in the output module."""
from __future__ import annotations

import torch
from torch import nn

from ..compression.basis_compressor import CompressedBasisLayer
from ..model.basis_kan import LayerChain, apply_basis, base_branch
from .swap_record import SwappedFrom


class CompressedBasisHead(nn.Module):
    """A compressed FastKAN, ChebyKAN or Gram layer in the layer's place: (..., in) -> (..., out)."""

    def __init__(self, compressed: CompressedBasisLayer):
        super().__init__()
        self.compressed = compressed
        self.basis = compressed.basis
        self.base_activation = compressed.base_activation
        self.output = compressed.output
        tensor = lambda values: None if values is None else torch.from_numpy(values.astype("float32"))  # noqa: E731
        self.register_buffer("codewords", tensor(compressed.codebook.dequantize()))          # (K, D)
        self.register_buffer("indices", torch.from_numpy(compressed.indices).long())         # (out, in)
        self.register_buffer("gains", tensor(compressed.gains.dequantize()))                 # (out, in)
        self.register_buffer("biases", tensor(compressed.biases.dequantize()))               # (out, in)
        self.register_buffer("base_weight", None if compressed.base_weights is None
                             else tensor(compressed.base_weights.dequantize()))              # (out, in)
        self.register_buffer("base_bias", tensor(compressed.base_bias))                      # (out,)
        self.out_features, self.in_features = compressed.indices.shape
        self.swapped_from: SwappedFrom | None = None  # the layer it replaced, set by compress_

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the coefficients (out, in, D), then apply the basis, add the base branch and apply the output."""
        coefficients = self.biases[..., None] + self.gains[..., None] * self.codewords[self.indices]
        return apply_basis(self.basis(x), coefficients, base_branch(x, self.base_weight, self.base_bias,
                                                                      self.base_activation), self.output)


class CompressedBasisStack(LayerChain):
    """A compressed FastKAN, ChebyKAN, Gram or torchkan net from a file: its layers' CompressedBasisHeads in turn, with
    the dense LayerNorms between them where the net has them."""

    def __init__(self, layers: list[CompressedBasisLayer], between: list[nn.LayerNorm | None]):
        super().__init__([CompressedBasisHead(layer) for layer in layers], between)
