"""Import flashkan (PyPI ``flashkan``) KANs: ``KANLayer`` / ``KANNetwork`` state dicts.

A flashkan layer stores, per layer N (shapes as its constructor makes them):
    grid_starts   (n,)            start of each basis' support, evenly spaced by h; n = G + k bases
    spline_weight (out, in, n)    B-spline coefficients
    base_weight   (out, in)       weight of the base branch, b(x) = base_activation(x) (SiLU by default)
Its basis is always the uniform *cubic* B-spline (the truncated-power form), whatever ``spline_order`` was
given, so basis j lives on the knots grid_starts[j] + h * (0..4): a cubic efficient-kan grid of n + 4 knots.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import SharekanError
from .layer_tensors import ImportedLayers, LayerReader, import_layers

if TYPE_CHECKING:
    from ..model import KAN
    from .export_parts import ExportedLayer

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


def flashkan_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` as flashkan's ``KANNetwork`` state dict: cubic, one evenly spaced grid per layer shared by every
    input (flashkan rebuilds its spacing from grid_range: build it with the range ``layout_constructor`` reports)."""
    state = {}
    for index, layer in enumerate(cubic_uniform_layers(model, "flashkan")):
        state[f"layers.{index}.grid_starts"] = layer.grid[0, : layer.spline_weight.shape[-1]].contiguous()
        state[f"layers.{index}.spline_weight"] = layer.scaled_spline_weight().contiguous()
        state[f"layers.{index}.base_weight"] = layer.base_weight.contiguous()
    return state


def cubic_uniform_layers(model: KAN, layout: str) -> list[ExportedLayer]:
    """``model``'s layers for a layout of uniform cubic B-splines on one grid range (flashkan, inkan), or an error."""
    from .export_parts import exported_layers, uniform_grid_of

    if model.config.spline_order != CUBIC:
        raise SharekanError(f"{layout} evaluates cubic B-splines only; this model's spline order is "
                            f"{model.config.spline_order}")
    layers = exported_layers(model, layout)
    for index, layer in enumerate(layers):
        uniform_grid_of(layer, CUBIC, index, layout)
    return layers
