"""Round-to-nearest uniform quantization of spline coefficients and base weights (QuantKAN's simplest PTQ).

Coefficient layout (E = out * in edges, D = G + k): the effective coefficients (out, in, D) are
stored as one 2-D tensor quantized with one affine (minimum, step) pair per row:
    per output channel   (out, in * D)
    per group of G edges (out * in / G, G * D)   the coefficients of G consecutive inputs of one output
Base weights (out, in) keep one pair per output row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...errors import SharekanError
from ...model import KAN, KANLayer
from ..compressed import CompressedKAN, CompressedLayer, layer_frame
from ..config import check_int
from ..quantize import QuantizedTensor, quantize

MIN_BITS, MAX_BITS = 2, 8
MAX_GROUP = 1 << 20


@dataclass(frozen=True)
class UniformConfig:
    """Round-to-nearest at ``bits`` (2 to 8) per output channel, or per group of ``group_size`` edges.

    A group is ``group_size`` consecutive inputs of one output (group_size * D coefficients); it
    must divide every layer's in_features.

    ``base_bits`` (default: ``bits``) quantizes the base weights, one affine pair per output row.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.UniformConfig(bits=4, group_size=64))
        >>> compressed.method
        'uniform'
    """

    method: ClassVar[str] = "uniform"

    bits: int = 4
    group_size: int | None = None
    base_bits: int | None = None

    def __post_init__(self) -> None:
        check_uniform_fields(self.bits, self.group_size, self.base_bits)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike)."""
        return per_edge_bits(self.bits, self.base_bits)


def per_edge_bits(bits: int, base_bits: int | None) -> dict[str, int]:
    """Widths of the components UniformConfig and GPTQConfig store: coefficients, then base weights."""
    return {"coefficients": bits, "base_weights": base_bits or bits}


def check_uniform_fields(bits: int, group_size: int | None, base_bits: int | None) -> None:
    """Validate the fields UniformConfig and GPTQConfig share."""
    check_int("bits", bits, MIN_BITS, MAX_BITS)
    if base_bits is not None:
        check_int("base_bits", base_bits, MIN_BITS, MAX_BITS)
    if group_size is not None:
        check_int("group_size", group_size, 1, MAX_GROUP)


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
                           coefficients=coefficients, **layer_frame(layer))


def compress_uniform(model: KAN, config: UniformConfig, metadata: dict | None = None) -> CompressedKAN:
    """Quantize every layer's coefficients and base weights to their nearest uniform level."""
    layers = [per_edge_layer(layer, *round_to_nearest(layer, config.bits, config.group_size, config.base_bits))
              for layer in model.layers]
    return CompressedKAN([], layers, config, dict(metadata or {}))
