"""Import deep-kan (PyPI ``deep-kan``, module ``deepkan``) B-spline KANs: ``DeepKAN`` / ``SplineLinearLayer``.

A deep-kan layer stores, per layer N, efficient-kan's tensors under other names:
    base_weights    (out, in)          base branch weight, b(x) = activation(x) (SiLU by default)
    spline_weights  (out, in, G + k)   B-spline coefficients
    spline_scales   (out, in)          per-edge spline scale (with standalone_spline_scaling, the default)
Its knots are a plain attribute, not saved: deep-kan itself rebuilds them from its constructor's num_knots (G),
spline_order (k) and grid_range, uniformly. G and k are not told apart by the file (only G + k is), so the user
states the grid (``UniformGrid``); deep-kan's defaults are 5, 3 and (-1, 1). Knots that ``_update_knots``
adapted during training are lost on save, for deep-kan's own reload as for this importer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..errors import SharekanError
from .layer_tensors import ImportedLayers, LayerReader, import_layers

if TYPE_CHECKING:
    from ..model import KAN

DEEP_KAN_TENSORS = ("base_weights", "spline_weights", "spline_scales")


@dataclass(frozen=True)
class UniformGrid:
    """A uniform knot grid a file does not record: G intervals on [low, high], spline order k."""

    grid_size: int
    spline_order: int
    low: float = -1.0
    high: float = 1.0

    @classmethod
    def parse(cls, text: str) -> "UniformGrid":
        """'G,k,LOW,HIGH' (or 'G,k' on deep-kan's default range -1,1), checked; ValueError says what is wrong."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) not in (2, 4):
            raise ValueError(f"grid {text!r} must be G,k or G,k,LOW,HIGH (deep-kan's defaults: 5,3,-1,1)")
        try:
            grid_size, order = int(parts[0]), int(parts[1])
            low, high = (float(parts[2]), float(parts[3])) if len(parts) == 4 else (-1.0, 1.0)
        except ValueError:
            raise ValueError(f"grid {text!r} must be G,k or G,k,LOW,HIGH with whole G and k") from None
        if grid_size < 1 or order < 0 or not low < high or not all(map(torch.isfinite, map(torch.tensor, (low, high)))):
            raise ValueError(f"grid {text!r} needs G >= 1, k >= 0 and finite LOW < HIGH")
        return cls(grid_size, order, low, high)

    def __str__(self) -> str:
        return f"{self.grid_size},{self.spline_order},{self.low:g},{self.high:g}"


def _deep_kan_layer(layer: LayerReader) -> dict[str, tuple[torch.Tensor, str]]:
    converted = {"base_weight": (layer.read("base_weights", 2, "(out, in)"), "base_weights"),
                 "spline_weight": (layer.read("spline_weights", 3, "(out, in, G + k)"), "spline_weights")}
    if "spline_scales" in layer.layer:  # absent with standalone_spline_scaling=False
        converted["spline_scaler"] = (layer.read("spline_scales", 2, "(out, in)"), "spline_scales")
    return converted


def deep_kan_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """deep-kan ``layers.N.{base_weights, spline_weights, spline_scales}`` as efficient-kan layers without knots."""
    imported = import_layers(tensors, names, source, DEEP_KAN_TENSORS, _deep_kan_layer)
    imported.knots_recorded = False
    return imported


def stated_knots(imported: ImportedLayers, grid: UniformGrid, source: str) -> None:
    """Add ``grid``'s knots to every layer of ``imported`` (in place), checked against its coefficient count."""
    from ..model.bspline import uniform_grid

    for key in [key for key in imported.tensors if key.endswith(".spline_weight")]:
        out_f, in_f, coefficients = imported.tensors[key].shape
        if coefficients != grid.grid_size + grid.spline_order:
            raise SharekanError(f"{source}: {imported.names.get(key, key)} has {coefficients} coefficients per edge, "
                                f"but the stated grid {grid} gives G + k = {grid.grid_size + grid.spline_order}")
        imported.tensors[key.removesuffix("spline_weight") + "grid"] = uniform_grid(
            in_f, grid.grid_size, grid.spline_order, (grid.low, grid.high))


def deep_kan_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` as deep-kan's ``DeepKAN`` state dict; its knots are not saved, so every layer must share one evenly
    spaced grid, which ``DeepKAN(..., num_knots=G, spline_order=k, grid_range=[low, high])`` rebuilds."""
    from .export_parts import exported_layers, uniform_grid_of

    layers = exported_layers(model, "deep-kan")
    ranges = [uniform_grid_of(layer, model.config.spline_order, index, "deep-kan") for index, layer in enumerate(layers)]
    width = ranges[0][1] - ranges[0][0]
    state = {}
    for index, layer in enumerate(layers):
        if max(abs(ranges[index][0] - ranges[0][0]), abs(ranges[index][1] - ranges[0][1])) > 1e-6 * width:
            raise SharekanError(f"layer {index}'s grid range differs from layer 0's; DeepKAN gives every layer one")
        state[f"layers.{index}.base_weights"] = layer.base_weight.contiguous()
        state[f"layers.{index}.spline_weights"] = layer.spline_weight.contiguous()
        state[f"layers.{index}.spline_scales"] = layer.spline_scaler.contiguous()
    return state
