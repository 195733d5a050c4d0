"""A KAN's layers as another library's class holds them: the pieces every layout writer starts from.

The project's layer computes y = s * (W b(x) + (r * c) . B(x)) + t. Libraries without the per-output scale s
get it folded into W and r (exact); a per-output bias t only pykan can hold, so other layouts refuse it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import SharekanError
from ..model import KAN

GRID_TOLERANCE = 1e-5  # relative to the knot spacing: what float32 arange * h leaves


@dataclass(frozen=True)
class ExportedLayer:
    """One layer: grid (in, G + 2k + 1), base_weight (out, in), spline_weight (out, in, G + k), spline_scaler
    (out, in), output_bias (out,); the per-output scale already folded into base_weight and spline_scaler."""

    grid: torch.Tensor
    base_weight: torch.Tensor
    spline_weight: torch.Tensor
    spline_scaler: torch.Tensor
    output_bias: torch.Tensor

    def scaled_spline_weight(self) -> torch.Tensor:
        """spline_weight * spline_scaler, (out, in, G + k): for a library without a separate scaler."""
        return self.spline_weight * self.spline_scaler.unsqueeze(-1)


def exported_layers(model: KAN, layout: str, keeps_bias: bool = False) -> list[ExportedLayer]:
    """``model``'s layers with the per-output scale folded in; a nonzero per-output bias is refused unless
    ``keeps_bias`` (the layout holds one)."""
    layers = []
    for index, layer in enumerate(model.layers):
        scale = layer.output_scale.detach().unsqueeze(-1)
        bias = layer.output_bias.detach().clone()
        if not keeps_bias and bool((bias != 0).any()):
            raise SharekanError(f"layer {index} has a per-output bias (pykan's node bias), which {layout} layers do "
                                "not hold; write it as --layout pykan or sharekan")
        layers.append(ExportedLayer(layer.grid.detach().clone(), layer.base_weight.detach() * scale,
                                    layer.spline_weight.detach().clone(), layer.spline_scaler.detach() * scale, bias))
    return layers


def uniform_grid_of(layer: ExportedLayer, order: int, index: int, layout: str) -> tuple[float, float]:
    """(low, high) of the grid range if every input of ``layer`` shares one evenly spaced grid of ``order``, else a
    SharekanError: ``layout`` rebuilds its knots from a grid range."""
    grid = layer.grid
    spacing = (grid[0, -1] - grid[0, 0]) / (grid.shape[1] - 1)
    if bool((grid != grid[:1]).any()) or float((grid[0, 1:] - grid[0, :-1] - spacing).abs().max()) > \
            GRID_TOLERANCE * float(spacing) + 1e-7:
        raise SharekanError(f"layer {index}'s knots are not one evenly spaced grid shared by every input (adapted to "
                            f"data, or pykan's per-input grids); {layout} rebuilds its knots from a grid range, so "
                            "write it as --layout efficient-kan, pykan or sharekan")
    return float(grid[0, order]), float(grid[0, -1 - order])
