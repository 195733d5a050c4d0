"""Write a dense KAN in another library's own layout, loadable strictly by that library's class.

``save_layout(model, "efficient-kan", path)`` writes a torch state dict (``torch.save``) holding exactly the
tensors of the library's class, and returns what to build that class with (the state dict does not say it):

    efficient-kan  KAN(widths, grid_size, spline_order, base_activation)      any grid
    pykan          KAN(width, grid, k, base_fun)                               any grid; keeps the per-output affine
    flashkan       KANNetwork / KANLayer(..., grid_size, grid_range)           cubic, one even grid per layer
    inkan          KANNetwork(widths, grid_size, grid_range)                   cubic, one even grid per layer
    kanx           kanx.torch.KAN(widths, grid_size, spline_order, ...)        grids that kanx's extension rebuilds
    deep-kan       DeepKAN(in, widths[1:], num_knots, spline_order, grid_range) one even grid for all layers
    convkan        ConvKAN(C, out, kernel, ..., grid_size, spline_order)      one layer, any grid, groups = 1
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import torch

from ..errors import SharekanError
from ..model import KAN
from .atomic import write_bytes_atomic
from .convkan import convkan_state
from .deep_kan import deep_kan_state
from .efficient_kan import efficient_kan_state
from .flashkan import flashkan_state
from .inkan import inkan_state
from .kan_groups import CONVKAN, DEEP_KAN, EFFICIENT_KAN, FLASHKAN, INKAN, KANX, PYKAN
from .kanx import kanx_state
from .pykan import pykan_state

LAYOUT_STATES: dict[str, Callable[[KAN], dict[str, torch.Tensor]]] = {
    EFFICIENT_KAN: efficient_kan_state, PYKAN: pykan_state, FLASHKAN: flashkan_state, INKAN: inkan_state,
    KANX: kanx_state, DEEP_KAN: deep_kan_state, CONVKAN: convkan_state}
LAYOUTS = tuple(LAYOUT_STATES)
# The base activations each library's class can be built with (None: any torch activation module).
LAYOUT_ACTIVATIONS: dict[str, tuple[str, ...] | None] = {
    EFFICIENT_KAN: None, PYKAN: ("silu", "identity"), FLASHKAN: None, INKAN: None,
    KANX: ("silu", "relu", "gelu", "tanh", "identity"), DEEP_KAN: None, CONVKAN: None}


def layout_state(model: KAN, layout: str) -> dict[str, torch.Tensor]:
    """``model``'s tensors in ``layout`` (one of LAYOUTS), or a SharekanError saying what that layout cannot hold."""
    if layout not in LAYOUT_STATES:
        raise SharekanError(f"unknown layout {layout!r}; choose one of sharekan, {', '.join(LAYOUTS)}")
    allowed = LAYOUT_ACTIVATIONS[layout]
    if allowed is not None and model.config.base_activation not in allowed:
        raise SharekanError(f"the model's base activation is {model.config.base_activation!r}; {layout} offers "
                            f"{', '.join(allowed)}")
    return LAYOUT_STATES[layout](model)


def layout_constructor(model: KAN) -> dict:
    """What to build the library's class with: widths, grid size, spline order, grid range, base activation."""
    first = model.layers[0]
    order = model.config.spline_order
    return {"widths": list(model.config.widths), "grid_size": first.num_coefficients - order, "spline_order": order,
            "grid_range": [float(first.grid[0, order]), float(first.grid[0, -1 - order])],
            "base_activation": model.config.base_activation}


def save_layout(model: KAN, layout: str, path: str | Path) -> dict:
    """Write ``model`` in ``layout`` to ``path`` atomically; return ``layout_constructor(model)``."""
    buffer = io.BytesIO()
    torch.save(layout_state(model, layout), buffer)
    write_bytes_atomic(path, buffer.getvalue())
    return layout_constructor(model)
