"""SHARe-KAN on a global-basis KAN layer (FastKAN's RBFs, ChebyKAN's Chebyshev polynomials, torch-conv-kan's Gram
polynomials): the same stages as ``compressor`` on its per-edge coefficient vectors (decompose, cluster, assign,
refit, quantize), packed as a ``CompressedBasisLayer`` that keeps the basis module (with FastKAN's LayerNorm, the
Gram recurrence's beta weights) and the output module (Gram's LayerNorm after the sum) dense.

Shapes (E = out * in edges, D basis functions, K codewords):
    codebook      (K, D)    unit shapes, quantized per column
    indices       (out, in) int64, each edge's codeword
    gains, biases (out, in) quantized; an edge's coefficients decode as bias + gain * codebook[index]
    base_weights  (out, in) quantized (FastKAN's and Gram's base branch; None for ChebyKAN); base_bias (out,) kept dense
With calibration inputs every stage measures error in function space, with H_i = E[phi(x_i) phi(x_i)^T] of
this basis (``data_aware``'s metric holds for any basis: it never uses the B-splines' partition of unity).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import SharekanError
from ..model.basis_kan import BasisKANLayer
from .compressor import EdgeGroup, assign_edges, fit_codebook, quantize_codebook, refit_edges
from .config import CompressionConfig
from .data_aware import EdgeMetric
from .decompose import decompose
from .layer_statistics import CHUNK_ROWS
from .packing import index_bits, packed_nbytes
from .quantize import QuantizedTensor, quantize


@dataclass
class CompressedBasisLayer:
    """One global-basis KAN layer in SHARe-KAN's form (shapes in the module docstring)."""

    basis: nn.Module
    codebook: QuantizedTensor
    indices: np.ndarray
    gains: QuantizedTensor
    biases: QuantizedTensor
    base_weights: QuantizedTensor | None
    base_bias: np.ndarray | None
    base_activation: str
    output: nn.Module | None = None  # applied after the sum (Gram: act(LayerNorm(y))), kept dense

    @property
    def nbytes(self) -> int:
        """Stored bytes: the quantized codebook, gains, biases and base weights, the indices packed at ceil(log2 K)
        bits, and the tensors kept dense (the basis module's grid, orders, beta weights or LayerNorm, the output
        module's LayerNorm, the base bias)."""
        quantized = sum(part.nbytes for part in (self.codebook, self.gains, self.biases, self.base_weights)
                        if part is not None)
        dense = sum(t.numel() * t.element_size() for module in (self.basis, self.output) if module is not None
                    for t in module.state_dict().values())
        dense += 0 if self.base_bias is None else self.base_bias.nbytes
        return quantized + packed_nbytes(self.indices.size, index_bits(self.codebook.shape[0])) + dense

    def coefficients(self) -> np.ndarray:
        """The decoded coefficients bias + gain * codeword, (out, in, D) float32."""
        codewords = self.codebook.dequantize()[self.indices]
        return (self.biases.dequantize()[..., None] + self.gains.dequantize()[..., None] * codewords).astype(np.float32)


def decompress_basis_layer(compressed: CompressedBasisLayer) -> BasisKANLayer:
    """The dense layer the codes decode to: the decoded coefficients and base weights over the same basis."""
    tensor = lambda values: None if values is None else torch.from_numpy(np.asarray(values, np.float32))  # noqa: E731
    base_weights = None if compressed.base_weights is None else compressed.base_weights.dequantize()
    return BasisKANLayer(compressed.basis, tensor(compressed.coefficients()), tensor(base_weights),
                         tensor(compressed.base_bias), compressed.base_activation, compressed.output)


def compress_basis_layer(layer: BasisKANLayer, config: object,
                         calibration: np.ndarray | None = None) -> CompressedBasisLayer:
    """``layer`` compressed with ``config`` (a CompressionConfig); ``calibration`` (N, in) are its inputs."""
    if not isinstance(config, CompressionConfig):
        raise SharekanError(f"{type(config).__name__} is not available for FastKAN, ChebyKAN or Gram layers; "
                            "use sk.CompressionConfig (SHARe-KAN)")
    config.check_layers(1)
    bits = config.component_bits(0)
    coefficients = layer.spline_weight.detach().to(torch.float64).numpy()
    if not np.isfinite(coefficients).all():
        raise SharekanError("the layer has NaN or Inf coefficients")
    flat = coefficients.reshape(-1, layer.num_coefficients)
    metric = None
    if calibration is not None:
        inputs = checked_calibration(calibration, layer.in_features)
        metric = EdgeMetric.for_layers([basis_moments(layer.basis, inputs)],
                                       [layer.out_features])
    group = EdgeGroup((0,), flat, decompose(flat), metric)
    codebook = fit_codebook(group, config)
    quantized = quantize_codebook(codebook, bits["codebook"])
    codewords = quantized.dequantize()
    assigned = assign_edges(group, codewords, codebook.assignments)
    gains, biases = refit_edges(group, codewords[assigned], config)
    edges = (layer.out_features, layer.in_features)
    base_weights = None if layer.base_weight is None else quantize(
        layer.base_weight.detach().numpy(), bits["base_weights"], "base weights")
    base_bias = None if layer.base_bias is None else layer.base_bias.detach().numpy().copy()
    return CompressedBasisLayer(layer.basis, quantized, assigned.reshape(edges),
                                quantize(gains.reshape(edges), bits["gains"], "gains"),
                                quantize(biases.reshape(edges), bits["biases"], "biases"),
                                base_weights, base_bias, layer.base_activation, layer.output)


def basis_moments(basis: nn.Module, inputs: np.ndarray) -> np.ndarray:
    """H_i = E[phi(x_i) phi(x_i)^T] of ``basis`` on the layer's inputs (N, in): (in, D, D) float64."""
    total = None
    with torch.no_grad():
        for part in torch.from_numpy(inputs).split(CHUNK_ROWS):
            bases = basis(part).to(torch.float64)
            moment = torch.einsum("nid,nie->ide", bases, bases).numpy()
            total = moment if total is None else total + moment
    return total / len(inputs)


def checked_calibration(calibration: np.ndarray, in_features: int) -> np.ndarray:
    """``calibration`` as float32 if it is a non-empty, finite (N, ``in_features``) numeric array, else a
    SharekanError."""
    values = np.asarray(calibration)
    if values.ndim != 2 or values.shape[1] != in_features or not len(values) \
            or not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise SharekanError(f"calibration must be a non-empty, finite (N, {in_features}) array, "
                            f"got shape {values.shape} ({values.dtype})")
    return values.astype(np.float32)
