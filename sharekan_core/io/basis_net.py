"""A whole FastKAN, ChebyKAN or Gram/KAGN net read from a file (a state dict, or a bigger model's by prefix).

Each family's own net chains its layers with nothing between them: FastKAN's ``FastKAN`` (``layers.N.``), an
nn.Sequential of ChebyKAN or GRAM layers (``N.``), torch-conv-kan's ``KAGN`` without dropout (``layers.N.``), or a
single layer. What a state dict does not hold is stated or read off the tensors, never guessed:

    FastKAN   the base activation (``--base-activation``; SiLU is the library's default) where a layer has a base
              branch; the RBF width is the grid's spacing, which FastKANLayer always uses, so the grid must be
              evenly spaced; LayerNorm eps is torch's default, as FastKANLayer builds it
    ChebyKAN  nothing: no base branch, degree from the tensors
    Gram      the activation (``--base-activation``; SiLU is the library's default), used by the basis, the base
              branch and after the LayerNorm, as GRAMLayer uses its one ``act``

A module between two layers is read only where the user states what it is: ``--between layernorm`` (ChebyKAN's nets
keep a LayerNorm between layers), checked to hold exactly a LayerNorm's weight and bias. Without the statement its
tensors are refused by name; a module with no tensors (a dropout, an activation) shows only as a gap in the layer
indices, which is refused too: such nets compress in place.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from ..errors import SharekanError
from ..model.basis_kan import BasisKAN, BasisKANLayer
from ..model.kan import DEFAULT_ACTIVATION
from ..model.rbf_kan import RBFBasis
from ..model.torchkan_layer import BSplineBasis
from .atomic import write_bytes_atomic
from .chebykan import CHEBYKAN, chebykan_layer, chebykan_state
from .fastkan import FASTKAN, fastkan_layer, fastkan_state
from .gram import GRAM, gram_layer, gram_state
from .kan_groups import KANGroup
from .torchkan import TORCHKAN, torchkan_state

# Each family's layer -> its library's state dict (names without the layer's prefix).
BASIS_STATES = {FASTKAN: fastkan_state, CHEBYKAN: chebykan_state, GRAM: gram_state}
CONTAINER = "container"  # compressed metadata: where the source net kept its layers ('layers.', '' or None)

SPACING_TOLERANCE = 1e-5  # relative: an evenly spaced grid's steps agree this closely (linspace in float32)
_STATE_IT = "--base-activation on the command line, base_activation= in the API, 'Base activation' in the studio"


BETWEEN = ("layernorm",)  # what a user can state sits between two layers (--between)


def basis_kan_from(tensors: dict[str, torch.Tensor], origin: dict[str, str], group: KANGroup, source: str,
                   base_activation: str | None, between: str | None = None) -> tuple[BasisKAN, set[str]]:
    """The group's layers (``group_tensors``' names ``layers.N.<name>``, ``origin`` their keys in the file) as a
    BasisKAN, and the file keys it used. ``base_activation`` is the user's statement (None: not stated); ``between``
    ('layernorm') states that the one module holding tensors between two layers is a LayerNorm (torch's eps)."""
    if between is not None and between not in BETWEEN:
        raise SharekanError(f"unknown --between {between!r}; choose {', '.join(BETWEEN)}")
    needs = _needs_activation(group.family, tensors)
    if base_activation is not None and not needs:
        raise SharekanError(f"{source}: a {group.family} net without a base branch has no base activation; drop "
                            "--base-activation (base_activation=)")
    if needs and base_activation is None:
        raise SharekanError(f"{source}: a {group.family} state dict does not record its activation; state "
                            f"{DEFAULT_ACTIVATION} ({group.family}'s default) or the one the model was built with "
                            f"({_STATE_IT})")
    layers = [_layer(group.family, _under(tensors, index), _file_prefix(group, index), source, base_activation)
              for index in group.indices]
    norms = [_between(tensors, group, before, after, source, between)
             for before, after in zip(group.indices, group.indices[1:])]
    if between is not None and not any(norm is not None for norm in norms):
        raise SharekanError(f"{source}: --between {between} was stated, but nothing sits between the {group.family} "
                            "layers; drop it")
    for index, (before, after) in enumerate(zip(layers, layers[1:])):
        width = norms[index].normalized_shape[0] if norms[index] is not None else before.out_features
        if after.in_features != before.out_features or width != before.out_features:
            raise SharekanError(f"{source}: a layer with {before.out_features} outputs feeds one with "
                                f"{after.in_features} inputs (through {width} features); these do not form one net")
    used = {key for name, key in origin.items()
            if any(name.startswith(f"layers.{i}.") for i in _used_indices(group, norms))}
    return BasisKAN(layers, group.family, norms, list(group.indices)), used


def _under(tensors: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    """Position ``index``'s tensors by their own names."""
    return {name[len(f"layers.{index}."):]: value for name, value in tensors.items()
            if name.startswith(f"layers.{index}.")}


def _between(tensors: dict[str, torch.Tensor], group: KANGroup, before: int, after: int, source: str,
             between: str | None) -> nn.LayerNorm | None:
    """The LayerNorm at the one position between layers ``before`` and ``after``, None where they are adjacent."""
    if after == before + 1:
        return None
    where = _file_prefix(group, before + 1).rstrip(".")
    own = _under(tensors, before + 1) if after == before + 2 else {}
    if not own:
        raise SharekanError(f"{source}: {where} between the {group.family} layers holds no tensors: a module without "
                            "them (a dropout, an activation) sits there, and a state dict cannot say which; build the "
                            "net in Python and compress it in place with sk.compress_(module, config)")
    keys = ", ".join(f"{where}.{name}" for name in own)
    if between is None:
        raise SharekanError(f"{source}: {keys} sit between the {group.family} layers and the file does not say what "
                            "module they are; if it is a LayerNorm (as ChebyKAN's nets keep between layers), state "
                            "--between layernorm (between= in the API, 'Between the layers' in the studio), else "
                            "compress the net in place")
    weight, bias = own.get("weight"), own.get("bias")
    if set(own) != {"weight", "bias"} or weight.dim() != 1 or bias.shape != weight.shape \
            or not torch.isfinite(weight).all() or not torch.isfinite(bias).all():
        raise SharekanError(f"{source}: {keys} are not a LayerNorm's finite weight and bias of one shape (d,)")
    norm = nn.LayerNorm(weight.numel())
    with torch.no_grad():
        norm.weight.copy_(weight.float())
        norm.bias.copy_(bias.float())
    return norm


def _used_indices(group: KANGroup, norms: list[nn.LayerNorm | None]) -> list[int]:
    """Positions whose tensors the net uses: its layers and the norms between them."""
    return [*group.indices, *(before + 1 for before, norm in zip(group.indices, norms) if norm is not None)]


def _layer(family: str, tensors: dict[str, torch.Tensor], prefix: str, source: str,
           activation: str | None) -> BasisKANLayer:
    """One layer, its tensors read checked (shapes, finite values) by the family's reader."""
    if family == CHEBYKAN:
        return chebykan_layer(tensors, prefix, source)
    if family == GRAM:
        return gram_layer(tensors, prefix, source, activation)
    return fastkan_layer(tensors, prefix, source, _grid_spacing(tensors.get("rbf.grid"), prefix, source),
                         activation or DEFAULT_ACTIVATION)


def _grid_spacing(grid: torch.Tensor | None, prefix: str, source: str) -> float:
    """The RBF width FastKANLayer uses, (max - min) / (G - 1), after checking the grid is the even one it builds."""
    if grid is None or grid.dim() != 1 or grid.numel() < 2 or not torch.isfinite(grid).all():
        raise SharekanError(f"{source}: {prefix}rbf.grid must be a finite (G,) grid of at least 2 points")
    steps = grid.to(torch.float64).diff()
    spacing = float(grid[-1] - grid[0]) / (grid.numel() - 1)
    if spacing <= 0 or not torch.allclose(steps, torch.full_like(steps, spacing), rtol=SPACING_TOLERANCE, atol=0.0):
        raise SharekanError(f"{source}: {prefix}rbf.grid is not evenly increasing; FastKANLayer builds an even grid and "
                            "takes its spacing as the RBF width, so another grid's width cannot be read from the file")
    return spacing


def _needs_activation(family: str, tensors: dict[str, torch.Tensor]) -> bool:
    """Whether the net computes an activation the file does not record."""
    if family == GRAM:
        return True
    return family == FASTKAN and any(name.endswith(".base_linear.weight") for name in tensors)


def _file_prefix(group: KANGroup, index: int) -> str:
    """Where layer ``index`` of ``group`` sits in the file: 'head.layers.1.'."""
    return group.prefix if group.container is None else f"{group.prefix}{group.container}{index}."


def basis_kan_state(net: BasisKAN, container: str | None = "layers.") -> dict[str, torch.Tensor]:
    """``net`` in its library's layout, each layer (and norm between layers) under ``{container}N.`` at its source
    position (None: one layer, no prefix), loadable strictly into the library's net built as
    ``basis_kan_constructor`` says."""
    if net.family == TORCHKAN:  # one module's lists, not a container of layers
        return torchkan_state(net)
    if container is None and len(net.layers) != 1:
        raise SharekanError(f"a {len(net.layers)}-layer net needs a container for its layers ('layers.' or '')")
    state = {}
    for index, layer in enumerate(net.layers):
        where = "" if container is None else f"{container}{net.positions[index]}."
        state.update({where + name: value for name, value in BASIS_STATES[net.family](layer).items()})
        norm = net.norms()[index] if index < len(net.layers) - 1 else None
        if norm is not None:
            state.update({f"{container}{net.positions[index] + 1}.{name}": value.detach().clone()
                          for name, value in norm.state_dict().items()})
    return state


def basis_kan_constructor(net: BasisKAN) -> dict:
    """What to build the library's layers with (no state dict holds it): widths and the family's parameters, once
    where every layer shares them (as the library's net builds them), else per layer."""
    params = [_layer_params(net.family, layer) for layer in net.layers]
    built = {"family": net.family, "widths": [net.layers[0].in_features, *(layer.out_features for layer in net.layers)]}
    if any(norm is not None for norm in net.norms()):
        built["layernorm_between"] = [norm is not None for norm in net.norms()]
    return {**built, **params[0]} if all(p == params[0] for p in params) else {**built, "layers": params}


def _layer_params(family: str, layer: BasisKANLayer) -> dict:
    if isinstance(layer.basis, BSplineBasis):
        grid, order = layer.basis.grid, layer.basis.order
        return {"grid_size": int(grid.shape[1]) - 2 * order - 1, "spline_order": order,
                "grid_range": [float(grid[0, order]), float(grid[0, -1 - order])], "base_activation": layer.base_activation,
                "version": "spline_scalers, no PReLU" if layer.output.prelu is None else "PReLU after each LayerNorm"}
    if isinstance(layer.basis, RBFBasis):
        grid = layer.basis.grid
        return {"grid_min": float(grid[0]), "grid_max": float(grid[-1]), "num_grids": int(grid.numel()),
                "use_layernorm": layer.basis.norm is not None, "use_base_update": layer.base_weight is not None,
                "base_activation": layer.base_activation if layer.base_weight is not None else None}
    if family == CHEBYKAN:
        return {"degree": layer.num_coefficients - 1}
    return {"degree": layer.num_coefficients - 1, "act": layer.base_activation}


def save_basis_kan_layout(net: BasisKAN, path: str | Path, container: str | None = "layers.") -> dict:
    """Write ``net`` in its library's layout (``torch.save``) atomically; return ``basis_kan_constructor(net)``."""
    buffer = io.BytesIO()
    torch.save(basis_kan_state(net, container), buffer)
    write_bytes_atomic(path, buffer.getvalue())
    return basis_kan_constructor(net)
