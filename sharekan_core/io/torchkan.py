"""Read 1ssb/torchkan's ``KAN`` (torchkan.py): B-spline layers, each followed by a LayerNorm (and a PReLU).

torchkan keeps all of a KAN's layers in lists inside one module; per layer N its state dict holds
    base_weights.N    (out, in)          base branch: F.linear(base_activation(x), W) (GELU by default)
    spline_weights.N  (out, in, G + k)   B-spline coefficients
    spline_scalers.N  (out, in)          per-edge spline scale (its earlier version only, which has no PReLU)
    grid_N            (in, G + 2k + 1)   extended uniform knots, a buffer
    layer_norms.N.*   LayerNorm(out);    prelus.N.weight   PReLU
and its forward is x = prelu_N(layer_norm_N(base + spline)) for every layer, the last included. The B-spline part
of one layer is efficient-kan's (same knots, Cox-de Boor recursion, flattened (out, in * (G + k)) product), so
``torchkan_layer`` imports it exactly into a ``KANLayer``. The norms and PReLUs are modules no file format here
records: a torchkan file is refused by name (``refuse_torchkan``) and the live module is compressed in place.
"""
from __future__ import annotations

import re

import torch

from ..errors import SharekanError
from ..model.kan import KANLayer
from .efficient_kan import kan_from_state

TORCHKAN = "torchkan"
_SPLINES = re.compile(r"^((?:.*\.)?)spline_weights\.(\d+)$")
_OWN = re.compile(r"^(?:(?:base_weights|spline_weights|spline_scalers)\.\d+|grid_\d+|(?:layer_norms|prelus)\.\d+\..+)$")
# efficient-kan's name in one layer -> torchkan's list name (the layer's index follows it)
_NAMES = {"base_weight": "base_weights.", "spline_weight": "spline_weights.", "spline_scaler": "spline_scalers.",
          "grid": "grid_"}
MAX_NAMED = 6


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


def torchkan_keys(keys: list[str], prefix: str) -> list[str]:
    """The keys under ``prefix`` that a torchkan KAN's own lists and grids hold."""
    return [key for key in keys if key.startswith(prefix) and _OWN.match(key[len(prefix):])]


def refuse_torchkan(tensors: dict[str, torch.Tensor], source: str) -> None:
    """Raise a SharekanError naming the tensors a file path would drop if ``tensors`` hold a torchkan KAN."""
    prefixes = torchkan_prefixes(list(tensors))
    if not prefixes:
        return
    prefix = prefixes[0]
    unused = [key for key in tensors if key.startswith(prefix) and key[len(prefix):].startswith(("layer_norms.", "prelus."))]
    shown = ", ".join(unused[:MAX_NAMED]) + (f" and {len(unused) - MAX_NAMED} more" if len(unused) > MAX_NAMED else "")
    raise SharekanError(f"{source}: holds a KAN of a family this tool does not import yet: {TORCHKAN} (1ssb/torchkan, "
                        f"a LayerNorm and PReLU after each B-spline layer) at prefix {prefix!r}; no file format here "
                        f"records those modules, so {len(unused)} tensors would go unused ({shown}); build the model "
                        "in Python and compress it in place with sk.compress_(module, config)")


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
