"""Import inkan (PyPI ``inkan``) KANs: ``KANLayer`` / ``KANNetwork`` state dicts of univariate layers.

An inkan layer stores, per layer N, with n = G + 3 cubic bases (inkan supports spline_order 3 only):
    grid_starts  (n,)                  start of each basis' support, evenly spaced, as in flashkan
    weight       (out, in * n + in)    packed: spline coefficients (out, in, n) flattened, then the base weights (out, in)
A ``dim=2`` layer (a tensor-product surface, weight (out, n * n + 2)) is not a KAN of univariate edges and is refused.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import SharekanError
from .flashkan import cubic_uniform_layers, knots_from_grid_starts
from .layer_tensors import ImportedLayers, LayerReader, import_layers

if TYPE_CHECKING:
    from ..model import KAN


def _inkan_layer(layer: LayerReader) -> dict[str, tuple[torch.Tensor, str]]:
    starts = layer.read("grid_starts", 1, "(G + 3,)")
    packed = layer.read("weight", 2, "(out, in * (G + 3) + in)")
    bases, columns = starts.shape[0], packed.shape[1]
    if columns == bases * bases + 2:
        raise SharekanError(f"{layer.source}: {layer.key('weight')} is an inkan dim=2 layer (a tensor-product spline "
                            "surface of two inputs), not univariate edges; it cannot be imported")
    if columns % (bases + 1):
        raise SharekanError(f"{layer.source}: {layer.key('weight')} has {columns} columns, not in * ({bases} "
                            "coefficients + 1 base weight) for any number of inputs")
    inputs = columns // (bases + 1)
    grid = knots_from_grid_starts(starts, inputs, layer.key("grid_starts"), layer.source)
    spline = packed[:, : inputs * bases].reshape(-1, inputs, bases).contiguous()
    return {"grid": (grid, "grid_starts"), "spline_weight": (spline, "weight"),
            "base_weight": (packed[:, inputs * bases:].contiguous(), "weight")}


def inkan_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """inkan ``layers.N.{grid_starts, weight}`` unpacked into efficient-kan cubic layers."""
    return import_layers(tensors, names, source, ("grid_starts", "weight"), _inkan_layer)


def inkan_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` as inkan's ``KANNetwork`` state dict (1-D layers): cubic, one evenly spaced grid per layer shared
    by every input, spline coefficients and base weights packed into one ``weight``."""
    state = {}
    for index, layer in enumerate(cubic_uniform_layers(model, "inkan")):
        spline = layer.scaled_spline_weight()
        state[f"layers.{index}.grid_starts"] = layer.grid[0, : spline.shape[-1]].contiguous()
        state[f"layers.{index}.weight"] = torch.cat([spline.reshape(spline.shape[0], -1), layer.base_weight], dim=1)
    return state
