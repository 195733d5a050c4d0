"""Import convkan (PyPI ``convkan`` 0.0.1.2) ``ConvKAN`` layers: efficient-kan on unfolded patches, with groups.

A ConvKAN holds one ``kan_layer`` (an efficient-kan ``KANLinear`` with a leading groups dimension g); per group,
n = (in_channels / g) * kernel_h * kernel_w patch inputs map to m = out_channels / g outputs:
    grid          (g, n, G + 2k + 1)   knots, per group and patch input
    base_weight   (g, m, n)            weight of the base branch
    spline_weight (g, m, n, G + k)     B-spline coefficients
    spline_scaler (g, m, n)            per-edge spline scale (absent without the standalone scaler)
Group g reads unfolded inputs g*n .. (g+1)*n - 1 and writes output channels g*m .. (g+1)*m - 1, so the layer is
one efficient-kan layer of g*n inputs and g*m outputs whose edges across groups are zero (block diagonal).
The convolution's geometry (kernel, stride, padding, dilation) is not in the state dict: ``model.conv_kan``'s
``ConvGeometry`` states it, and ``ConvKAN2d`` runs the imported layer on unfolded patches.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import SharekanError
from .layer_tensors import ImportedLayers, LayerReader, import_layers

if TYPE_CHECKING:
    from ..model import KAN

_READS = ("grid", "base_weight", "spline_weight", "spline_scaler")


def is_convkan_layer(grid: torch.Tensor | None, spline: torch.Tensor | None) -> bool:
    """True for a grouped KANLinear's tensors: a 3-D (g, n, knots) grid beside a 4-D (g, m, n, G+k) spline_weight."""
    return grid is not None and spline is not None and grid.dim() == 3 and spline.dim() == 4


def block_diagonal(blocks: torch.Tensor) -> torch.Tensor:
    """(g, m, n, ...) per-group blocks as one (g*m, g*n, ...) tensor, zero across groups."""
    groups, rows, cols = blocks.shape[:3]
    full = blocks.new_zeros((groups * rows, groups * cols, *blocks.shape[3:]))
    for group in range(groups):
        full[group * rows:(group + 1) * rows, group * cols:(group + 1) * cols] = blocks[group]
    return full


def _convkan_layer(layer: LayerReader) -> dict[str, tuple[torch.Tensor, str]]:
    spline = layer.read("spline_weight", 4, "(groups, out / groups, in, G + k)")
    grid = layer.read("grid", 3, "(groups, in, G + 2k + 1)")
    base = layer.read("base_weight", 3, "(groups, out / groups, in)")
    groups, rows, cols, _ = spline.shape
    if grid.shape[:2] != (groups, cols) or base.shape != (groups, rows, cols):
        raise SharekanError(f"{layer.source}: {layer.key('spline_weight')} has shape {tuple(spline.shape)} but "
                            f"{layer.key('grid')} has {tuple(grid.shape)} and {layer.key('base_weight')} "
                            f"{tuple(base.shape)}; the tensors of one ConvKAN must agree in groups and widths")
    converted = {"grid": (grid.reshape(groups * cols, -1), "grid"),
                 "base_weight": (block_diagonal(base), "base_weight"),
                 "spline_weight": (block_diagonal(spline), "spline_weight")}
    if "spline_scaler" in layer.layer:
        scaler = layer.read("spline_scaler", 3, "(groups, out / groups, in)")
        if scaler.shape != base.shape:
            raise SharekanError(f"{layer.source}: {layer.key('spline_scaler')} has shape {tuple(scaler.shape)}, "
                                f"expected {tuple(base.shape)} as {layer.key('base_weight')}")
        converted["spline_scaler"] = (block_diagonal(scaler), "spline_scaler")
    return converted


def convkan_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """A ConvKAN's ``kan_layer`` tensors as one efficient-kan layer over its unfolded patch (block diagonal in groups)."""
    return import_layers(tensors, names, source, _READS, _convkan_layer)


def input_groups(kan: torch.nn.Module) -> int:
    """g for a live convkan KANLinear (its (g, B, n) inputs are grouped), 1 for any other KAN module."""
    spline = getattr(kan, "spline_weight", None)
    return spline.shape[0] if isinstance(spline, torch.Tensor) and spline.dim() == 4 else 1


def convkan_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` (one layer over a patch) as a convkan ``ConvKAN``'s state dict with groups = 1: loads strictly into
    ``ConvKAN(C, out, kernel, ..., grid_size=G, spline_order=k)`` with C * kernel_h * kernel_w = the layer's inputs
    (a grouped layer imported block diagonal is written whole, its cross-group edges as the zeros they are)."""
    from .export_parts import exported_layers

    if len(model.layers) != 1:
        raise SharekanError(f"a convkan ConvKAN holds one KAN layer; this model has {len(model.layers)}")
    layer = exported_layers(model, "convkan")[0]
    return {"kan_layer.grid": layer.grid.unsqueeze(0).contiguous(),
            "kan_layer.base_weight": layer.base_weight.unsqueeze(0).contiguous(),
            "kan_layer.spline_weight": layer.spline_weight.unsqueeze(0).contiguous(),
            "kan_layer.spline_scaler": layer.spline_scaler.unsqueeze(0).contiguous()}
