"""Build a KAN from an efficient-kan style state_dict (also the project's own layout)."""
from __future__ import annotations

import re

import torch

from ..errors import SharekanError
from ..model import KAN, KANConfig
from .limits import check_kan_shape

_LAYER_KEY = re.compile(r"^layers\.(\d+)\.(\w+)$")
_REQUIRED = ("grid", "base_weight", "spline_weight")


def looks_like_efficient_kan(tensors: dict[str, torch.Tensor]) -> bool:
    """True if the keys follow efficient-kan's ``layers.N.spline_weight`` naming."""
    return "layers.0.spline_weight" in tensors


def kan_from_state(tensors: dict[str, torch.Tensor], source: str = "model") -> KAN:
    """Return a KAN holding ``tensors`` (keys ``layers.N.<param>``), validated for shape and finiteness."""
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        match = _LAYER_KEY.match(key)
        if match:
            layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not layers or sorted(layers) != list(range(len(layers))):
        raise SharekanError(f"{source}: no contiguous 'layers.N.*' tensors found; not a KAN state_dict")
    widths, grid_size, order = [], None, None
    for index in range(len(layers)):
        params = layers[index]
        missing = [name for name in _REQUIRED if name not in params]
        if missing:
            raise SharekanError(f"{source}: layer {index} lacks {', '.join(missing)}")
        out_f, in_f, coeffs = _shape3(params["spline_weight"], f"layers.{index}.spline_weight", source)
        if params["grid"].dim() not in (1, 2):
            raise SharekanError(f"{source}: layers.{index}.grid must be 1-D or 2-D (in, knots), got shape {tuple(params['grid'].shape)}")
        knots = params["grid"].shape[-1]
        k = knots - coeffs - 1
        g = coeffs - k
        if k < 0 or g < 1:
            raise SharekanError(f"{source}: layers.{index}.grid has {knots} knots, inconsistent with {coeffs} coefficients")
        if (grid_size, order) not in ((None, None), (g, k)):
            raise SharekanError(f"{source}: layer {index} has G={g}, k={k} but layer 0 has G={grid_size}, k={order}")
        grid_size, order = g, k
        if widths and widths[-1] != in_f:
            raise SharekanError(f"{source}: layer {index} takes {in_f} inputs but layer {index - 1} gives {widths[-1]}")
        if not widths:
            widths.append(in_f)
        widths.append(out_f)
    check_kan_shape(tuple(widths), grid_size + order, order, source)
    model = KAN(KANConfig(tuple(widths), grid_size, order))
    for index, layer in enumerate(model.layers):
        params = layers[index]
        for name, target in layer.state_dict().items():
            if name not in params:
                continue  # optional: spline_scaler, output_scale, output_bias
            if params[name].is_complex() or params[name].dtype == torch.bool:
                raise SharekanError(f"{source}: layers.{index}.{name} has dtype {params[name].dtype}, expected real numbers")
            value = params[name].to(torch.float32)
            if name == "grid" and value.dim() == 1:
                value = value.expand_as(target)
            if value.shape != target.shape:
                raise SharekanError(f"{source}: layers.{index}.{name} has shape {tuple(value.shape)}, expected {tuple(target.shape)}")
            if not torch.isfinite(value).all():
                raise SharekanError(f"{source}: layers.{index}.{name} contains NaN or Inf values")
            target.copy_(value)
        if not (layer.grid[:, 1:] > layer.grid[:, :-1]).all():
            raise SharekanError(f"{source}: layers.{index}.grid knots are not strictly increasing")
    return model


def _shape3(tensor: torch.Tensor, key: str, source: str) -> tuple[int, int, int]:
    if tensor.dim() != 3:
        raise SharekanError(f"{source}: {key} must be 3-D (out, in, G+k), got shape {tuple(tensor.shape)}")
    return tuple(tensor.shape)  # type: ignore[return-value]
