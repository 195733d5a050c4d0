"""Round-to-nearest uniform quantization of spline coefficients and base weights (QuantKAN's simplest PTQ).

Coefficient layout (E = out * in edges, D = G + k): the effective coefficients (out, in, D) are
stored as one 2-D tensor quantized with one affine (minimum, step) pair per row:
    per output channel   (out, in * D)
    per group of G edges (out * in / G, G * D)   the coefficients of G consecutive inputs of one output
Base weights (out, in) keep one pair per output row.
"""
from __future__ import annotations

import numpy as np

from ...errors import SharekanError
from ...model import KAN, KANLayer
from ...progress import Progress
from ..compressed import CompressedKAN, CompressedLayer, uncompressed_fields
from ..method_configs import UniformConfig, per_edge_bits
from ..quantize import QuantizedTensor, quantize
from ..registry import register_handler



def coefficient_layout(layer: KANLayer, group_size: int | None) -> tuple[int, int]:
    """(rows, cols) of the stored coefficient tensor: one affine pair per row (see the module docstring)."""
    return stored_layout(layer.out_features, layer.in_features, layer.num_coefficients, group_size)


def stored_layout(out_features: int, in_features: int, coefficients: int, group_size: int | None) -> tuple[int, int]:
    """(rows, cols) of a layer's stored coefficients: (out, in * D) per channel, (out * in / G, G * D) per group."""
    if group_size is None:
        return out_features, in_features * coefficients
    if in_features % group_size:
        raise SharekanError(f"group_size {group_size} must divide every layer's in_features, "
                            f"got a layer with {in_features} inputs; use a divisor or per-channel")
    return out_features * in_features // group_size, group_size * coefficients


def layer_weights(layer: KANLayer) -> tuple[np.ndarray, np.ndarray]:
    """(effective coefficients (out, in * D), base weights (out, in)) as float64, checked finite."""
    coefficients = layer.scaled_spline_weight().detach().double().numpy().reshape(layer.out_features, -1)
    base = layer.base_weight.detach().double().numpy()
    if not (np.isfinite(coefficients).all() and np.isfinite(base).all()):
        raise SharekanError("the model has NaN or Inf weights")
    return coefficients, base


def round_to_nearest(layer: KANLayer, bits: int, group_size: int | None,
                     base_bits: int | None) -> tuple[QuantizedTensor, QuantizedTensor]:
    """(coefficients, base weights) of one layer rounded to their nearest level."""
    coefficients, base = layer_weights(layer)
    widths = per_edge_bits(bits, base_bits)
    stored = quantize(coefficients.reshape(coefficient_layout(layer, group_size)), widths["coefficients"],
                      "spline coefficients")
    return stored, quantize(base, widths["base_weights"], "base weights")


def per_edge_layer(layer: KANLayer, coefficients: QuantizedTensor, base_weights: QuantizedTensor) -> CompressedLayer:
    """A CompressedLayer that stores its coefficients per edge (no codebook)."""
    return CompressedLayer(codebook_id=None, indices=None, gains=None, biases=None, base_weights=base_weights,
                           coefficients=coefficients, **uncompressed_fields(layer))


@register_handler(UniformConfig)
def compress_uniform(model: KAN, config: UniformConfig, *, calibration: np.ndarray | None = None,
                     progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Quantize every layer's coefficients and base weights to their nearest uniform level."""
    layers = [per_edge_layer(layer, *round_to_nearest(layer, config.bits, config.group_size, config.base_bits))
              for layer in model.layers]
    return CompressedKAN([], layers, config, dict(metadata or {}), model.config.base_activation)
