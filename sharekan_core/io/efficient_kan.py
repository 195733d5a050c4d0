"""Build a KAN from an efficient-kan style state_dict (also the project's own layout)."""
from __future__ import annotations

import re

import torch

from ..errors import SharekanError
from ..model import KAN, KANConfig
from ..ranges import ZERO_BASE
from .layer_tensors import ImportedLayers
from .limits import check_kan_shape

# Every tensor of an efficient-kan ``KANLinear`` (spline_scaler only with its standalone scaler), plus this
# project's per-output affine; anything else under a layer is a module the importer would drop.
LAYER_TENSORS = ("grid", "base_weight", "spline_weight", "spline_scaler", "output_scale", "output_bias")
_LAYER_KEY = re.compile(r"^layers\.(\d+)\.(\w+)$")
_REQUIRED = ("grid", "base_weight", "spline_weight")


def is_layer_tensor(name: str) -> bool:
    """True if ``name`` is ``layers.N.<one of LAYER_TENSORS>``, a tensor ``kan_from_state`` reads."""
    match = _LAYER_KEY.match(name)
    return match is not None and match.group(2) in LAYER_TENSORS


def efficient_kan_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str) -> ImportedLayers:
    """The tensors of an efficient-kan (or this project's) group that ``kan_from_state`` reads, unchanged."""
    layer_tensors = {name: value for name, value in tensors.items() if is_layer_tensor(name)}
    return ImportedLayers(layer_tensors, set(layer_tensors), names)


def kan_from_state(tensors: dict[str, torch.Tensor], source: str = "model", base_activation: str = "silu",
                   names: dict[str, str] | None = None) -> KAN:
    """Return a KAN holding ``tensors`` (keys ``layers.N.<param>``), validated for shape and finiteness.

    ``base_activation`` names the base branch's activation (a key of ``model.kan.BASE_ACTIVATIONS``, or
    'zero' for a base branch that is always 0). Keys outside ``LAYER_TENSORS`` are refused by name.
    Errors name a tensor by ``names[key]`` (its key in the file) where given.
    """
    names = names or {}
    layers: dict[int, dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in tensors.items():
        match = _LAYER_KEY.match(key)
        if match and match.group(2) in LAYER_TENSORS:
            layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
        else:
            unknown.append(key)
    if unknown:
        raise SharekanError(f"{source}: tensors the efficient-kan importer does not use: {', '.join(unknown[:6])}")
    if not layers:
        raise SharekanError(f"{source}: no 'layers.N.*' tensors found; not a KAN state_dict")
    if sorted(layers) != list(range(len(layers))):
        missing = sorted(set(range(max(layers) + 1)) - set(layers))
        raise SharekanError(f"{source}: KAN layers {', '.join(map(str, sorted(layers)))} hold tensors but "
                            f"{', '.join(map(str, missing))} do not; a module without tensors (an activation, a "
                            "dropout) between KAN layers cannot be reproduced")
    widths, grid_size, order = _architecture(layers, source, names)
    activation = "silu" if base_activation == ZERO_BASE else base_activation
    model = KAN(KANConfig(tuple(widths), grid_size, order, base_activation=activation))
    for index, layer in enumerate(model.layers):
        params = layers[index]
        for name, target in layer.state_dict().items():
            if name not in params:
                continue  # optional: spline_scaler, output_scale, output_bias
            key = f"layers.{index}.{name}"
            target.copy_(_checked(params[name], target, names.get(key, key), source))
        _check_knots(layer.grid, names.get(f"layers.{index}.grid", f"layers.{index}.grid"), source)
        if base_activation == ZERO_BASE:
            layer.base_weight.data.zero_()
    return model


def _architecture(layers: dict[int, dict[str, torch.Tensor]], source: str,
                  names: dict[str, str]) -> tuple[list[int], int, int]:
    """Layer widths, G and k read from the spline weights and grids, checked to chain and agree."""
    widths, grid_size, order = [], None, None
    for index in range(len(layers)):
        params = layers[index]
        missing = [name for name in _REQUIRED if name not in params]
        if missing:
            raise SharekanError(f"{source}: layer {index} lacks {', '.join(missing)}")
        spline_key, grid_key = (names.get(f"layers.{index}.{name}", f"layers.{index}.{name}") for name in ("spline_weight", "grid"))
        out_f, in_f, coeffs = _shape3(params["spline_weight"], spline_key, source)
        if params["grid"].dim() not in (1, 2):
            raise SharekanError(f"{source}: {grid_key} must be 1-D or 2-D (in, knots), got shape {tuple(params['grid'].shape)}")
        knots = params["grid"].shape[-1]
        k = knots - coeffs - 1
        g = coeffs - k
        if k < 0 or g < 1:
            raise SharekanError(f"{source}: {grid_key} has {knots} knots, inconsistent with {coeffs} coefficients")
        if (grid_size, order) not in ((None, None), (g, k)):
            raise SharekanError(f"{source}: layer {index} has grid size G={g} and order k={k} but layer 0 has G={grid_size}, "
                                f"k={order}; a KAN with a different grid per layer is not supported")
        grid_size, order = g, k
        if widths and widths[-1] != in_f:
            raise SharekanError(f"{source}: layer {index} takes {in_f} inputs but layer {index - 1} gives {widths[-1]}")
        if not widths:
            widths.append(in_f)
        widths.append(out_f)
    check_kan_shape(tuple(widths), grid_size + order, order, source)
    return widths, grid_size, order


def _checked(value: torch.Tensor, target: torch.Tensor, key: str, source: str) -> torch.Tensor:
    """``value`` as float32 in ``target``'s shape (a 1-D grid is shared by every input), finite."""
    if value.is_complex() or value.dtype == torch.bool:
        raise SharekanError(f"{source}: {key} has dtype {value.dtype}, expected real numbers")
    value = value.to(torch.float32)
    if key.endswith(".grid") and value.dim() == 1 and value.shape[0] == target.shape[-1]:
        value = value.expand_as(target)
    if value.shape != target.shape:
        raise SharekanError(f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(target.shape)}")
    if not torch.isfinite(value).all():
        raise SharekanError(f"{source}: {key} contains NaN or Inf values")
    return value


def _check_knots(grid: torch.Tensor, key: str, source: str) -> None:
    """Refuse a knot row that is not strictly increasing, naming the input and what is wrong with it."""
    steps = grid[:, 1:] - grid[:, :-1]
    bad = (steps <= 0).any(dim=1).nonzero().flatten()
    if len(bad) == 0:
        return
    row = int(bad[0])
    if bool((steps[row] == 0).all()):
        raise SharekanError(f"{source}: {key} knots of input {row} are all equal (a constant input); only pykan "
                            "evaluates such splines (as zero), and this is not a pykan file")
    position = int((steps[row] <= 0).nonzero()[0]) + 1
    kind = "repeat" if float(steps[row, position - 1]) == 0 else "decrease"
    raise SharekanError(f"{source}: {key} knots of input {row} {kind} at knot {position} "
                        f"({float(grid[row, position - 1]):.6g} then {float(grid[row, position]):.6g}); "
                        "B-spline knots must be strictly increasing")


def _shape3(tensor: torch.Tensor, key: str, source: str) -> tuple[int, int, int]:
    if tensor.dim() != 3:
        raise SharekanError(f"{source}: {key} must be 3-D (out, in, G+k), got shape {tuple(tensor.shape)}")
    return tuple(tensor.shape)  # type: ignore[return-value]


def efficient_kan_state(model: KAN, standalone_scaler: bool = True) -> dict[str, torch.Tensor]:
    """``model`` as efficient-kan's ``KAN`` state dict (standalone scaler, its default): loads strictly into
    ``KAN(widths, grid_size=G, spline_order=k, base_activation=...)``; adapted grids are kept as they are.
    Without ``standalone_scaler`` (``enable_standalone_scale_spline=False``) the scaler is folded into spline_weight."""
    from .export_parts import exported_layers

    state = {}
    for index, layer in enumerate(exported_layers(model, "efficient-kan")):
        state[f"layers.{index}.grid"] = layer.grid.contiguous()
        state[f"layers.{index}.base_weight"] = layer.base_weight.contiguous()
        if standalone_scaler:
            state[f"layers.{index}.spline_weight"] = layer.spline_weight.contiguous()
            state[f"layers.{index}.spline_scaler"] = layer.spline_scaler.contiguous()
        else:
            state[f"layers.{index}.spline_weight"] = layer.scaled_spline_weight().contiguous()
    return state
