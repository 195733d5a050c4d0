"""The compressed KAN, for every method, and its decompression.

Shapes (per layer, E = out * in edges, D = G + k):
    codebook      (K_eff, D)   SHARe-KAN and k-means: shared by a layer (scope 'layer') or by all layers ('global')
    indices       (out, in)    int64 in memory, ceil(log2 K_eff) bits on disk
    gains, biases (out, in)    SHARe-KAN only (k-means codewords are raw vectors: gain 1, bias 0, not stored);
                               the spline scaler is folded into the gains
    coefficients  (rows, cols) uniform and GPTQ: the quantized (out, in * D) coefficients, laid out as
                               (out, in * D) per output channel or (out * in * D / G, G) per group of G;
                               pruning: (kept edges, D)
    kept          (out, in)    pruning only: bool mask of the edges that are stored
    base_weights  (out, in)    quantized; pruning: (kept edges,) of the kept edges only
    output_scale, output_bias (out,) float32
    grid          (in, G + 2k + 1) float32
Every layer's base branch is ``base_activation(x) @ base_weights.T``, one activation for the whole model (a key
of ``model.kan.BASE_ACTIVATIONS``, SiLU by default), recorded beside the layers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import SharekanError
from ..model import KAN, KANConfig, KANLayer
from ..model.kan import BASE_ACTIVATIONS
from .packing import index_bits
from .quantize import QuantizedTensor


@dataclass(frozen=True)
class CompressedLayer:
    """One layer's stored tensors; which are present depends on the method (see the module docstring)."""

    grid: np.ndarray
    spline_order: int
    codebook_id: int | None
    indices: np.ndarray | None
    gains: QuantizedTensor | None
    biases: QuantizedTensor | None
    base_weights: QuantizedTensor
    output_scale: np.ndarray
    output_bias: np.ndarray
    coefficients: QuantizedTensor | None = None
    kept: np.ndarray | None = None

    @property
    def out_features(self) -> int:
        """Number of outputs."""
        return int(self.output_scale.shape[0])

    @property
    def in_features(self) -> int:
        """Number of inputs."""
        return int(self.grid.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of edges, out * in."""
        return self.out_features * self.in_features

    @property
    def num_coefficients(self) -> int:
        """Coefficients per edge, D = G + k."""
        return int(self.grid.shape[1] - self.spline_order - 1)

    def base_weight_matrix(self) -> np.ndarray:
        """Dequantized base weights (out, in); pruned edges are zero."""
        values = self.base_weights.dequantize()
        if self.kept is None:
            return values
        full = np.zeros((self.out_features, self.in_features), np.float32)
        full[self.kept] = values
        return full


@dataclass(frozen=True)
class CompressedKAN:
    """A compressed model: codebooks (empty for per-edge methods), layers, the config used and metadata.

    ``method`` names the config's method ('sharekan', 'uniform', 'gptq', 'kmeans', 'prune');
    ``base_activation`` the dense model's base activation, which every runtime computes.
    """

    codebooks: list[QuantizedTensor]
    layers: list[CompressedLayer]
    config: Any  # one of the method configs (compression.methods.METHOD_CONFIGS)
    metadata: dict = field(default_factory=dict)
    base_activation: str = "silu"

    def __post_init__(self) -> None:
        check_known_activation(self.base_activation)

    @property
    def method(self) -> str:
        """The compression method that produced this model."""
        return self.config.method

    def index_bits(self, codebook_id: int) -> int:
        """Bits per stored index of a codebook: ceil(log2 K_eff)."""
        return index_bits(self.codebooks[codebook_id].shape[0])

    @property
    def num_edges(self) -> int:
        """Total edge count."""
        return sum(layer.num_edges for layer in self.layers)

    def layer_coefficients(self, index: int) -> np.ndarray:
        """Reconstructed effective coefficients of one layer, shape (out, in, D)."""
        layer = self.layers[index]
        shape = (layer.out_features, layer.in_features, layer.num_coefficients)
        if layer.kept is not None:
            full = np.zeros(shape, np.float32)
            full[layer.kept] = layer.coefficients.dequantize()
            return full
        if layer.coefficients is not None:
            return layer.coefficients.dequantize().reshape(shape)
        codewords = self.codebooks[layer.codebook_id].dequantize()[layer.indices]
        if layer.gains is None:
            return codewords
        return layer.biases.dequantize()[..., None] + layer.gains.dequantize()[..., None] * codewords


def check_known_activation(name: object) -> str:
    """Return ``name`` if it is a base activation this tool computes, else raise SharekanError listing them."""
    if not isinstance(name, str) or name not in BASE_ACTIVATIONS:
        raise SharekanError(f"unknown base activation {str(name)[:40]!r}; this tool computes "
                            f"{', '.join(BASE_ACTIVATIONS)}")
    return name


def decompress(compressed: CompressedKAN) -> KAN:
    """Rebuild a dense KAN (spline scaler 1, the same base activation) from the compressed form of any method; a
    ``CompressedBasisKAN`` (a FastKAN, ChebyKAN or Gram net) decodes to its ``BasisKAN``."""
    if not isinstance(compressed, CompressedKAN):
        from .basis_net import CompressedBasisKAN, decompress_basis_kan  # it imports this module

        if isinstance(compressed, CompressedBasisKAN):
            return decompress_basis_kan(compressed)
    first = compressed.layers[0]
    widths = (first.in_features, *(layer.out_features for layer in compressed.layers))
    order = first.spline_order
    grid_size = first.grid.shape[1] - 2 * order - 1
    model = KAN(KANConfig(widths, grid_size, order, base_activation=compressed.base_activation))
    with torch.no_grad():
        for index, (target, layer) in enumerate(zip(model.layers, compressed.layers)):
            target.grid.copy_(torch.from_numpy(layer.grid))
            target.spline_weight.copy_(torch.from_numpy(compressed.layer_coefficients(index).astype(np.float32)))
            target.spline_scaler.fill_(1.0)
            target.base_weight.copy_(torch.from_numpy(layer.base_weight_matrix()))
            target.output_scale.copy_(torch.from_numpy(layer.output_scale))
            target.output_bias.copy_(torch.from_numpy(layer.output_bias))
    return model


def uncompressed_fields(layer: KANLayer) -> dict:
    """The tensors every method stores unchanged: knots, spline order and the per-output affine."""
    return {
        "grid": layer.grid.detach().numpy().astype(np.float32).copy(),
        "spline_order": layer.spline_order,
        "output_scale": layer.output_scale.detach().numpy().astype(np.float32).copy(),
        "output_bias": layer.output_bias.detach().numpy().astype(np.float32).copy(),
    }
