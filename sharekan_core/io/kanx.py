"""Import kanx's PyTorch KANs (PyPI ``kanx``, ``kanx.torch.KAN`` / ``KANLinear`` / ``MatrixKAN``).

A kanx layer stores, per layer N, transposed relative to efficient-kan and with the grid not yet extended:
    grid          (in, G + 1)        knots over the grid range, per input (uniform until update_grid_from_samples)
    base_weight   (in, out)          base branch: base_activation(x) @ base_weight (SiLU by default)
    spline_weight (in, out, G + k)   B-spline coefficients
kanx extends each input's grid in its forward by k knots each side, spaced by (last - first) / G; the
importer does the same once. ``kan_groups`` tells it from efficient-kan by its grid having fewer knots than
coefficients + 1. MatrixKAN's ``scale_base``/``scale_spline`` are not in the state dict: they must be 1.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import SharekanError
from .layer_tensors import ImportedLayers, LayerReader, import_layers

if TYPE_CHECKING:
    from ..model import KAN


def extended_grid(grid: torch.Tensor, order: int) -> torch.Tensor:
    """kanx's grid (in, G + 1) extended by ``order`` knots each side at spacing (last - first) / G: (in, G + 2k + 1)."""
    spacing = (grid[:, -1:] - grid[:, :1]) / (grid.shape[1] - 1)
    left = grid[:, :1] + torch.arange(-order, 0, dtype=grid.dtype) * spacing
    right = grid[:, -1:] + torch.arange(1, order + 1, dtype=grid.dtype) * spacing
    return torch.cat([left, grid, right], dim=1)


def _kanx_layer(layer: LayerReader) -> dict[str, tuple[torch.Tensor, str]]:
    grid = layer.read("grid", 2, "(in, G + 1)")
    spline = layer.read("spline_weight", 3, "(in, out, G + k)")
    base = layer.read("base_weight", 2, "(in, out)")
    order = spline.shape[2] - (grid.shape[1] - 1)
    if grid.shape[0] != spline.shape[0] or grid.shape[1] < 2 or order < 1:
        raise SharekanError(f"{layer.source}: {layer.key('grid')} has shape {tuple(grid.shape)}, which does not fit "
                            f"{layer.key('spline_weight')} {tuple(spline.shape)} as kanx's (in, G + 1) grid for "
                            "(in, out, G + k) coefficients with k >= 1")
    if base.shape != spline.shape[:2]:
        raise SharekanError(f"{layer.source}: {layer.key('base_weight')} has shape {tuple(base.shape)}, "
                            f"expected {tuple(spline.shape[:2])}")
    return {"grid": (extended_grid(grid, order), "grid"),
            "spline_weight": (spline.permute(1, 0, 2).contiguous(), "spline_weight"),
            "base_weight": (base.t().contiguous(), "base_weight")}


def kanx_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """kanx ``layers.N.{grid, base_weight, spline_weight}`` transposed and extended into efficient-kan layers."""
    return import_layers(tensors, names, source, ("grid", "base_weight", "spline_weight"), _kanx_layer)


def kanx_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` as kanx's torch ``KAN`` state dict (an nn.Sequential of ``KANLinear``): each grid cut back to its
    (in, G + 1) inner knots, which kanx must extend into the same knots (true of uniform and kanx-adapted grids)."""
    from .export_parts import GRID_TOLERANCE, exported_layers

    order = model.config.spline_order
    state = {}
    for index, layer in enumerate(exported_layers(model, "kanx")):
        inner = layer.grid[:, order: layer.grid.shape[1] - order]
        spacing = (inner[:, -1:] - inner[:, :1]) / (inner.shape[1] - 1)
        if float(((extended_grid(inner, order) - layer.grid).abs() / spacing).max()) > GRID_TOLERANCE:
            raise SharekanError(f"layer {index}'s outer knots are not spaced as kanx extends a grid ((last - first) / G "
                                "past each end); write it as --layout efficient-kan, pykan or sharekan")
        state[f"{index}.base_weight"] = layer.base_weight.t().contiguous()
        state[f"{index}.spline_weight"] = layer.scaled_spline_weight().permute(1, 0, 2).contiguous()
        state[f"{index}.grid"] = inner.contiguous()
    return state
