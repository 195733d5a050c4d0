"""The compressed KAN: shared codebooks plus per-edge index, gain and bias; and its decompression.

Shapes (per layer, E = out * in edges, D = G + k):
    codebook      (K_eff, D)   shared by a layer (scope 'layer') or by all layers ('global')
    indices       (out, in)    int64 in memory, ceil(log2 K_eff) bits on disk
    gains, biases (out, in)    quantized; the spline scaler is folded into the gains
    base_weights  (out, in)    quantized
    output_scale, output_bias (out,) float32
    grid          (in, G + 2k + 1) float32
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..model import KAN, KANConfig
from .config import CompressionConfig
from .packing import index_bits
from .quantize import QuantizedTensor


@dataclass(frozen=True)
class CompressedLayer:
    """One layer's per-edge index, gain, bias and base weight, and its knots."""

    grid: np.ndarray
    spline_order: int
    codebook_id: int
    indices: np.ndarray
    gains: QuantizedTensor
    biases: QuantizedTensor
    base_weights: QuantizedTensor
    output_scale: np.ndarray
    output_bias: np.ndarray

    @property
    def out_features(self) -> int:
        """Number of outputs."""
        return int(self.indices.shape[0])

    @property
    def in_features(self) -> int:
        """Number of inputs."""
        return int(self.indices.shape[1])

    @property
    def num_edges(self) -> int:
        """Number of edges, out * in."""
        return int(self.indices.size)


@dataclass(frozen=True)
class CompressedKAN:
    """A SHARe-KAN compressed model: codebooks, layers, the config used and the source metadata."""

    codebooks: list[QuantizedTensor]
    layers: list[CompressedLayer]
    config: CompressionConfig
    metadata: dict = field(default_factory=dict)

    def index_bits(self, codebook_id: int) -> int:
        """Bits per stored index of a codebook: ceil(log2 K_eff)."""
        return index_bits(self.codebooks[codebook_id].shape[0])

    @property
    def num_edges(self) -> int:
        """Total edge count."""
        return sum(layer.num_edges for layer in self.layers)

    def layer_coefficients(self, index: int) -> np.ndarray:
        """Reconstructed effective coefficients bias + gain * codebook[index], shape (out, in, D)."""
        layer = self.layers[index]
        codebook = self.codebooks[layer.codebook_id].dequantize()
        gains = layer.gains.dequantize()
        biases = layer.biases.dequantize()
        return biases[..., None] + gains[..., None] * codebook[layer.indices]


def decompress(compressed: CompressedKAN) -> KAN:
    """Rebuild a dense KAN (spline scaler 1) from the compressed form."""
    first = compressed.layers[0]
    widths = (first.in_features, *(layer.out_features for layer in compressed.layers))
    order = first.spline_order
    grid_size = first.grid.shape[1] - 2 * order - 1
    model = KAN(KANConfig(widths, grid_size, order))
    with torch.no_grad():
        for index, (target, layer) in enumerate(zip(model.layers, compressed.layers)):
            target.grid.copy_(torch.from_numpy(layer.grid))
            target.spline_weight.copy_(torch.from_numpy(compressed.layer_coefficients(index).astype(np.float32)))
            target.spline_scaler.fill_(1.0)
            target.base_weight.copy_(torch.from_numpy(layer.base_weights.dequantize()))
            target.output_scale.copy_(torch.from_numpy(layer.output_scale))
            target.output_bias.copy_(torch.from_numpy(layer.output_bias))
    return model
