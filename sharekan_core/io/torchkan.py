"""Read 1ssb/torchkan's ``KAN`` (torchkan.py): B-spline layers, each followed by a LayerNorm (and a PReLU).

torchkan keeps all of a KAN's layers in lists inside one module; per layer N its state dict holds
    base_weights.N    (out, in)          base branch: F.linear(base_activation(x), W) (GELU by default)
    spline_weights.N  (out, in, G + k)   B-spline coefficients
    spline_scalers.N  (out, in)          per-edge spline scale (its earlier version only, which has no PReLU)
    grid_N            (in, G + 2k + 1)   extended uniform knots, a buffer
    layer_norms.N.*   LayerNorm(out);    prelus.N.weight   PReLU
and its forward is x = prelu_N(layer_norm_N(base + spline)) for every layer, the last included. The B-spline part
of one layer is efficient-kan's (same knots, Cox-de Boor recursion, flattened (out, in * (G + k)) product), so
``torchkan_layer`` imports it exactly into a ``KANLayer``. A file is read as a ``BasisKAN`` of torchkan layers
(``torchkan_basis_kan``: the norms and PReLUs after each layer kept dense, as its output module); the live module
is compressed in place (``runtime/torchkan_in_place``) with the fused kernels.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from ..errors import SharekanError
from ..model.basis_kan import BasisKAN, BasisKANLayer
from ..model.kan import KANLayer
from ..model.torchkan_layer import BSplineBasis, NormThenPReLU
from .efficient_kan import kan_from_state

TORCHKAN = "torchkan"
_SPLINES = re.compile(r"^((?:.*\.)?)spline_weights\.(\d+)$")
_OWN = re.compile(r"^(?:(?:base_weights|spline_weights|spline_scalers)\.\d+|grid_\d+|(?:layer_norms|prelus)\.\d+\..+)$")
# efficient-kan's name in one layer -> torchkan's list name (the layer's index follows it)
_NAMES = {"base_weight": "base_weights.", "spline_weight": "spline_weights.", "spline_scaler": "spline_scalers.",
          "grid": "grid_"}


def torchkan_layer_state(index: int, **values: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Layer ``index``'s tensors under torchkan's list names, from efficient-kan's names (``base_weight``,
    ``spline_weight``, ``spline_scaler``, ``grid``); a value of None is left out."""
    return {f"{_NAMES[name]}{index}": value.contiguous() for name, value in values.items() if value is not None}


def torchkan_prefixes(keys: list[str]) -> list[str]:
    """The prefixes ('' or 'head.') under which ``keys`` hold a torchkan KAN's first layer."""
    found = []
    for key in keys:
        match = _SPLINES.match(key)
        if match and match.group(2) == "0" and {f"{match.group(1)}base_weights.0", f"{match.group(1)}grid_0"} <= set(keys):
            found.append(match.group(1))
    return found


def torchkan_layer_count(keys: list[str], prefix: str) -> int:
    """How many layers the torchkan KAN under ``prefix`` has (its spline_weights.N)."""
    return sum(1 for key in keys if (match := _SPLINES.match(key)) and match.group(1) == prefix)


def torchkan_keys(keys: list[str], prefix: str) -> list[str]:
    """The keys under ``prefix`` that a torchkan KAN's own lists and grids hold."""
    return [key for key in keys if key.startswith(prefix) and _OWN.match(key[len(prefix):])]


def refuse_torchkan(tensors: dict[str, torch.Tensor], source: str) -> None:
    """Raise a SharekanError naming the prefix of a torchkan KAN that ``tensors`` hold where another was looked for."""
    prefixes = torchkan_prefixes(list(tensors))
    if prefixes:
        raise SharekanError(f"{source}: holds a {TORCHKAN} KAN (1ssb/torchkan, a LayerNorm and PReLU after each "
                            f"B-spline layer) at prefix {prefixes[0]!r}; pass that prefix to read it (--prefix, prefix= "
                            "in the API)")


def torchkan_layer(tensors: dict[str, torch.Tensor], index: int, base_activation: str, source: str) -> KANLayer:
    """Layer ``index`` of a torchkan KAN's state dict as a dense KANLayer, checked (shapes, finite, increasing knots)."""
    state, names = {}, {}
    for ours, theirs in _NAMES.items():
        key = f"{theirs}{index}"
        if key in tensors:
            state[f"layers.0.{ours}"], names[f"layers.0.{ours}"] = tensors[key], key
        elif ours != "spline_scaler":
            raise SharekanError(f"{source}: torchkan layer {index} lacks {key}")
    return kan_from_state(state, source, base_activation, names).layers[0]


def torchkan_basis_kan(tensors: dict[str, torch.Tensor], prefix: str, source: str,
                       base_activation: str) -> tuple[BasisKAN, set[str]]:
    """The torchkan KAN under ``prefix`` as a BasisKAN of torchkan layers (``model.torchkan_layer``: its B-splines,
    the spline scalers folded into the coefficients, its LayerNorm and PReLU after each layer) and the keys it used."""
    own = {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}
    layers, used = [], set()
    for index in range(torchkan_layer_count(list(tensors), prefix)):
        dense = torchkan_layer(own, index, base_activation, source)
        norm = nn.LayerNorm(dense.out_features)
        slope = own.get(f"prelus.{index}.weight")
        if slope is not None and (slope.dim() != 1 or slope.numel() not in (1, dense.out_features)):
            raise SharekanError(f"{source}: {prefix}prelus.{index}.weight has shape {tuple(slope.shape)}")
        prelu = None if slope is None else nn.PReLU(slope.numel())
        targets = {f"layer_norms.{index}.weight": norm.weight, f"layer_norms.{index}.bias": norm.bias,
                   **({f"prelus.{index}.weight": prelu.weight} if prelu is not None else {})}
        for key, target in targets.items():
            _load_checked(target, own.get(key), prefix + key, source)
        used.update(targets)
        used.update(f"{theirs}{index}" for theirs in _NAMES.values() if f"{theirs}{index}" in own)
        layers.append(BasisKANLayer(BSplineBasis(dense.grid, dense.spline_order), dense.scaled_spline_weight().detach(),
                                    dense.base_weight.detach(), None, base_activation, NormThenPReLU(norm, prelu)))
    if not layers:
        raise SharekanError(f"{source}: no torchkan layers at prefix {prefix!r}")
    return BasisKAN(layers, TORCHKAN), {prefix + key for key in used}


def _load_checked(target: torch.Tensor, value: torch.Tensor | None, key: str, source: str) -> None:
    """Copy ``value`` into the parameter ``target``, refusing a missing, misshapen or non-finite one by ``key``."""
    if value is None:
        raise SharekanError(f"{source}: the torchkan KAN lacks {key}")
    if value.shape != target.shape or not torch.isfinite(value).all():
        raise SharekanError(f"{source}: {key} must be finite, of shape {tuple(target.shape)}")
    with torch.no_grad():
        target.copy_(value.float())


def torchkan_state(net: BasisKAN) -> dict[str, torch.Tensor]:
    """A torchkan BasisKAN in torchkan's own layout: loadable strictly into its KAN (with PReLUs), or its earlier
    version (spline_scalers, set to ones since the scale is folded into spline_weights, and no PReLUs)."""
    state: dict[str, torch.Tensor] = {}
    for index, layer in enumerate(net.layers):
        if not isinstance(layer.basis, BSplineBasis) or not isinstance(layer.output, NormThenPReLU):
            raise SharekanError("only torchkan layers as torchkan_basis_kan builds them are written in its layout")
        earlier = layer.output.prelu is None
        state.update(torchkan_layer_state(
            index, base_weight=layer.base_weight.detach(), spline_weight=layer.spline_weight.detach(),
            spline_scaler=torch.ones(layer.out_features, layer.in_features) if earlier else None,
            grid=layer.basis.grid.detach()))
        state.update({f"layer_norms.{index}.{key}": value.detach().clone()
                      for key, value in layer.output.norm.state_dict().items()})
        if not earlier:
            state[f"prelus.{index}.weight"] = layer.output.prelu.weight.detach().clone()
    return state
