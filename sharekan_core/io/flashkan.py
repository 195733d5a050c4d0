"""Import flashkan (PyPI ``flashkan``) KANs: ``KANLayer`` / ``KANNetwork`` state dicts.

A flashkan layer stores, per layer N (shapes as its constructor makes them):
    grid_starts   (n,)            start of each basis' support, evenly spaced by h; n = G + k bases
    spline_weight (out, in, n)    B-spline coefficients
    base_weight   (out, in)       weight of the base branch, b(x) = base_activation(x) (SiLU by default)
Its basis is always the uniform *cubic* B-spline (the truncated-power form), whatever ``spline_order`` was
given, so basis j lives on the knots grid_starts[j] + h * (0..4): a cubic efficient-kan grid of n + 4 knots.
"""
from __future__ import annotations

import torch

from ..errors import SharekanError
from .layer_tensors import ImportedLayers, LayerReader, import_layers

CUBIC = 3
SPACING_TOLERANCE = 1e-4  # relative: float32 arange * h leaves steps equal to about 1e-6 of h


def knots_from_grid_starts(starts: torch.Tensor, inputs: int, key: str, source: str) -> torch.Tensor:
    """The cubic knot grid (inputs, n + 4) of evenly spaced basis starts ``starts`` (n,), shared by every input."""
    count = starts.shape[0]
    if count < CUBIC + 1:
        raise SharekanError(f"{source}: {key} holds {count} basis starts; a cubic B-spline needs at least 4")
    steps = starts[1:] - starts[:-1]
    spacing = float((starts[-1] - starts[0]) / (count - 1))
    if spacing <= 0 or float((steps - spacing).abs().max()) > SPACING_TOLERANCE * spacing:
        raise SharekanError(f"{source}: {key} is not evenly increasing (steps {float(steps.min()):.6g} to "
                            f"{float(steps.max()):.6g}); the library evaluates every basis with one knot spacing")
    tail = starts[-1] + spacing * torch.arange(1, CUBIC + 2, dtype=torch.float32)
    return torch.cat([starts, tail]).expand(inputs, -1).contiguous()


def _flashkan_layer(layer: LayerReader) -> dict[str, tuple[torch.Tensor, str]]:
    starts = layer.read("grid_starts", 1, "(G + k,)")
    spline = layer.read("spline_weight", 3, "(out, in, G + k)")
    if spline.shape[-1] != starts.shape[0]:
        raise SharekanError(f"{layer.source}: {layer.key('spline_weight')} has {spline.shape[-1]} coefficients per "
                            f"edge but {layer.key('grid_starts')} has {starts.shape[0]} basis starts")
    grid = knots_from_grid_starts(starts, spline.shape[1], layer.key("grid_starts"), layer.source)
    return {"grid": (grid, "grid_starts"), "spline_weight": (spline, "spline_weight"),
            "base_weight": (layer.read("base_weight", 2, "(out, in)"), "base_weight")}


def flashkan_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """flashkan ``layers.N.{grid_starts, spline_weight, base_weight}`` as efficient-kan cubic layers."""
    return import_layers(tensors, names, source, ("grid_starts", "spline_weight", "base_weight"), _flashkan_layer)
