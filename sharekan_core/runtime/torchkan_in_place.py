"""compress_'s part for 1ssb/torchkan KANs, whose layers live in lists inside one module (``io.torchkan``).

Such a KAN cannot have one layer swapped on its own, so the whole module is replaced by a ``TorchKANStack``: its
layers imported exactly as dense ``KANLayer``s, with the KAN's own ``layer_norms`` and ``prelus`` modules (the same
objects) after them, in torchkan's order. The stack's forward equals the original's (checked on probe inputs before
the swap); compress_ then swaps each dense layer for its compressed-domain head, the norms left as they are.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import SharekanError
from ..io.torchkan import TORCHKAN, torchkan_keys, torchkan_layer, torchkan_prefixes
from .probe_check import PROBE_ROWS, refuse_unless_reproduced
from .swap_record import SwappedFrom, swapped_from



class TorchKANStack(nn.Module):
    """torchkan's forward over separate layers: x = prelus[i](layer_norms[i](layers[i](x))), (B, in) -> (B, out);
    without ``prelus`` (torchkan's earlier version) x = layer_norms[i](layers[i](x))."""

    def __init__(self, layers: list[nn.Module], layer_norms: nn.ModuleList, prelus: nn.ModuleList | None):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.layer_norms = layer_norms
        self.prelus = prelus
        self.swapped_from: SwappedFrom | None = None  # the torchkan KAN it replaced, set by dense_stack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in) to (B, out)."""
        return self._run(x, None)

    def layer_inputs(self, x: torch.Tensor, name: str) -> dict[str, torch.Tensor]:
        """What each layer sees when the stack runs on ``x``, by the layer's dotted name under ``name``."""
        seen: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            self._run(x, seen, name)
        return seen

    def _run(self, x: torch.Tensor, seen: dict[str, torch.Tensor] | None, name: str = "") -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            if seen is not None:
                seen[f"{name}.layers.{index}"] = x.detach().reshape(-1, x.shape[-1])
            x = self.layer_norms[index](layer(x))
            if self.prelus is not None:
                x = self.prelus[index](x)
        return x


def torchkan_names(module: nn.Module) -> list[str]:
    """The dotted names of the torchkan KANs inside ``module`` (refused if ``module`` is one itself)."""
    prefixes = torchkan_prefixes(list(module.state_dict()))
    if "" in prefixes:
        raise SharekanError(f"the module itself is a {TORCHKAN} KAN, which cannot be swapped in place; call "
                            "compress_ on a module that holds it")
    return [prefix.rstrip(".") for prefix in prefixes]


def dense_stack(kan: nn.Module, name: str, base_activation: str) -> TorchKANStack:
    """The torchkan KAN ``kan`` as a TorchKANStack of dense layers, refused by name unless it reproduces ``kan``."""
    tensors = kan.state_dict()
    count = len(getattr(kan, "spline_weights", ()))
    norms, prelus = getattr(kan, "layer_norms", None), getattr(kan, "prelus", None)
    if not isinstance(norms, nn.ModuleList) or len(norms) != count or (
            prelus is not None and (not isinstance(prelus, nn.ModuleList) or len(prelus) != count)):
        raise SharekanError(f"{name}: a {TORCHKAN} KAN needs one layer_norms (and prelus) module per layer, "
                            f"{count} here; found {len(norms or ())} and {len(prelus or ())}")
    unknown = [key for key in tensors if key not in torchkan_keys(list(tensors), "")]
    if unknown:
        raise SharekanError(f"{name}: holds {', '.join(unknown[:6])}, which a {TORCHKAN} KAN does not; its forward "
                            "cannot be reproduced")
    layers = [torchkan_layer(tensors, index, base_activation, name) for index in range(count)]
    for index in range(1, count):
        if layers[index].in_features != layers[index - 1].out_features:
            raise SharekanError(f"{name}: layer {index} takes {layers[index].in_features} inputs but layer "
                                f"{index - 1} gives {layers[index - 1].out_features}")
    stack = TorchKANStack(layers, norms, prelus).to(tensors["base_weights.0"].device)
    _check_reproduces(stack, kan, name)
    stack.swapped_from = swapped_from(kan, TORCHKAN)  # decompressed_state_dict's way back to torchkan's layout
    return stack


def _check_reproduces(stack: TorchKANStack, kan: nn.Module, name: str) -> None:
    """Refuse a module with torchkan's names whose forward the stack does not reproduce on probe inputs in its grid."""
    first = stack.layers[0]
    low, high = float(first.grid[:, first.spline_order].min()), float(first.grid[:, -1 - first.spline_order].max())
    generator = torch.Generator().manual_seed(0)
    probe = low + (high - low) * torch.rand(PROBE_ROWS, first.in_features, generator=generator)
    refuse_unless_reproduced(kan, stack, probe.to(first.grid.device),
                             f"{name}: {type(kan).__name__} has {TORCHKAN}'s tensors, but its forward is not "
                             f"torchkan's (prelu(layer_norm(base + spline)) per layer); it cannot be reproduced")


def swap_in_stacks(module: nn.Module, activation_of: Callable[[nn.Module, str], str]) -> dict[str, nn.Module]:
    """Replace every torchkan KAN in ``module`` by its dense TorchKANStack; return the originals by name.
    ``activation_of(kan, name)`` names the KAN's base activation (compress_'s ``live_activation``)."""
    originals = {name: module.get_submodule(name) for name in torchkan_names(module)}
    stacks = {name: dense_stack(kan, name, activation_of(kan, name)) for name, kan in originals.items()}
    for name, stack in stacks.items():
        _place(module, name, stack)
    return originals


def restore(module: nn.Module, originals: dict[str, nn.Module], kept: list[str] = ()) -> None:
    """Put back each original torchkan KAN in ``originals`` unless a name in ``kept`` lies under it."""
    for name, original in originals.items():
        if not any(other.startswith(name + ".") for other in kept):
            _place(module, name, original)


def _place(module: nn.Module, name: str, child: nn.Module) -> None:
    parent, _, attribute = name.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, attribute, child)
