"""Import convkan (PyPI ``convkan`` 0.0.1.2) ``ConvKAN`` layers: efficient-kan on unfolded patches, with groups.

A ConvKAN holds one ``kan_layer`` (an efficient-kan ``KANLinear`` with a leading groups dimension g); per group,
n = (in_channels / g) * kernel_h * kernel_w patch inputs map to m = out_channels / g outputs:
    grid          (g, n, G + 2k + 1)   knots, per group and patch input
    base_weight   (g, m, n)            weight of the base branch
    spline_weight (g, m, n, G + k)     B-spline coefficients
    spline_scaler (g, m, n)            per-edge spline scale (absent without the standalone scaler)
Only g = 1 imports: the layer is then one efficient-kan layer of n inputs and m outputs. A grouped layer (g > 1)
is refused by name: as one layer its g*(g-1)*m*n cross-group edges would be zeros, compressed, stored and counted
as if they were real edges, and no compressed format records a block-diagonal layer.
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


def _convkan_layer(layer: LayerReader) -> dict[str, tuple[torch.Tensor, str]]:
    spline = layer.read("spline_weight", 4, "(groups, out / groups, in, G + k)")
    grid = layer.read("grid", 3, "(groups, in, G + 2k + 1)")
    base = layer.read("base_weight", 3, "(groups, out / groups, in)")
    groups, rows, cols, _ = spline.shape
    if grid.shape[:2] != (groups, cols) or base.shape != (groups, rows, cols):
        raise SharekanError(f"{layer.source}: {layer.key('spline_weight')} has shape {tuple(spline.shape)} but "
                            f"{layer.key('grid')} has {tuple(grid.shape)} and {layer.key('base_weight')} "
                            f"{tuple(base.shape)}; the tensors of one ConvKAN must agree in groups and widths")
    if groups > 1:
        raise SharekanError(f"{layer.source}: {layer.key('spline_weight')} is a grouped convkan ConvKAN (groups = "
                            f"{groups}), which is not supported: as one KAN layer its "
                            f"{groups * (groups - 1) * rows * cols:,} cross-group edges would be zeros compressed and "
                            "counted as real edges; only groups = 1 imports")
    converted = {"grid": (grid[0], "grid"), "base_weight": (base[0], "base_weight"),
                 "spline_weight": (spline[0], "spline_weight")}
    if "spline_scaler" in layer.layer:
        scaler = layer.read("spline_scaler", 3, "(groups, out / groups, in)")
        if scaler.shape != base.shape:
            raise SharekanError(f"{layer.source}: {layer.key('spline_scaler')} has shape {tuple(scaler.shape)}, "
                                f"expected {tuple(base.shape)} as {layer.key('base_weight')}")
        converted["spline_scaler"] = (scaler[0], "spline_scaler")
    return converted


def convkan_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """A ConvKAN's ``kan_layer`` tensors (groups = 1) as one efficient-kan layer over its unfolded patch."""
    return import_layers(tensors, names, source, _READS, _convkan_layer)


def convkan_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` (one layer over a patch) as a convkan ``ConvKAN``'s state dict with groups = 1: loads strictly into
    ``ConvKAN(C, out, kernel, ..., grid_size=G, spline_order=k)`` with C * kernel_h * kernel_w = the layer's inputs."""
    from .export_parts import exported_layers

    if len(model.layers) != 1:
        raise SharekanError(f"a convkan ConvKAN holds one KAN layer; this model has {len(model.layers)}")
    layer = exported_layers(model, "convkan")[0]
    return {"kan_layer.grid": layer.grid.unsqueeze(0).contiguous(),
            "kan_layer.base_weight": layer.base_weight.unsqueeze(0).contiguous(),
            "kan_layer.spline_weight": layer.spline_weight.unsqueeze(0).contiguous(),
            "kan_layer.spline_scaler": layer.spline_scaler.unsqueeze(0).contiguous()}
