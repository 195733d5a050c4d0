"""Compress the KANs inside any torch module in place, in torchao's style: ``compress_(module, config)``.

Every KAN-shaped group of ``module.state_dict()`` (any family ``io`` imports: a KAN head on a backbone, an
nn.Sequential of KAN layers, a single KAN layer) is imported, compressed and swapped for its compressed-domain
module; the rest of the module (backbone, other layers) is left as it is. A KAN whose module also holds norms
or activations between its layers (efficient-kan with ``norms``, an nn.Sequential with a LayerNorm) has each of its
layers swapped on its own, the norms left in place: its forward, which applies them, runs unchanged. The base
activation is read from the live KAN's activation modules, so nothing is guessed.

Example::

    >>> import sharekan_core as sk
    >>> net = MyNet()                                                 # doctest: +SKIP
    >>> samples = sk.calibration_from(net, images)                    # doctest: +SKIP
    >>> heads = sk.compress_(net, sk.CompressionConfig(codebook_size=64), calibration=samples)  # doctest: +SKIP
    >>> net(images)                                                   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..compression import compress
from ..compression.basis_compressor import CompressedBasisLayer
from ..compression.compressed import CompressedKAN
from ..errors import SharekanError
from ..io.kan_groups import BASIS_FAMILIES, KANGroup, find_kan_groups
from ..io.torchkan import refuse_torchkan
from ..io.model_file import model_from_tensors
from ..model.kan import KANLayer
from .basis_in_place import basis_head, basis_layer_names, compress_basis_layers, under_basis_layers
from .probe_check import reproduced_activation
from .loading import compressed_runnable
from .swap_record import SwappedFrom, swapped_from
from .torchkan_in_place import dense_stack, restore, swap_in_stacks, torchkan_names

KANX_ACTIVATIONS = {"silu": "silu", "swish": "silu", "relu": "relu", "gelu": "gelu", "tanh": "tanh",
                    "identity": "identity", "linear": "identity"}  # kanx.torch.KANLinear's base_activation names


class CompressedHead(nn.Module):
    """A compressed-domain KAN in a KAN module's place: (..., in) -> (..., out), as efficient-kan's layers take."""

    def __init__(self, compressed: CompressedKAN):
        super().__init__()
        self.compressed = compressed
        self.kan = compressed_runnable(compressed).module
        self.in_features = compressed.layers[0].in_features
        self.out_features = compressed.layers[-1].out_features
        self.swapped_from: SwappedFrom | None = None  # what it replaced, set by compress_ / load_compressed_into

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (..., in) to (..., out) from the codes (a convkan layer's (1, B, in) to (1, B, out))."""
        return self.kan(x.reshape(-1, self.in_features)).reshape(*x.shape[:-1], self.out_features)


def kan_modules(module: nn.Module) -> dict[str, nn.Module]:
    """Each KAN inside ``module`` by its dotted name: the submodule holding one KAN-shaped group of tensors, or each
    of its layers where that submodule holds more than its KAN layers (``swap_units``)."""
    found = {}
    for group in find_kan_groups(module.state_dict()):
        if group.family in BASIS_FAMILIES:  # swapped layer by layer below
            continue
        for name in swap_units(module, group):
            found[name] = module.get_submodule(name)
    for name in basis_layer_names(module):  # FastKAN and ChebyKAN layers, each swapped on its own
        found[name] = module.get_submodule(name)
    return found


def swap_units(module: nn.Module, group: KANGroup) -> list[str]:
    """The submodules to swap for ``group``: the KAN's own module, or each KAN layer on its own where the KAN's
    module (or its layer list) also holds other modules or tensors (norms, activations, a temperature between or
    after the layers), which only the module's own forward knows where to apply; those are left as they are."""
    if group.container is not None:
        layers = [f"{group.prefix}{group.container}{index}" for index in group.indices]
        owner = module.get_submodule(group.prefix.rstrip(".")) if group.prefix else module
        listing = owner.get_submodule(group.container.rstrip(".")) if group.container else owner
        own_tensors = [key for key in owner.state_dict() if not key.startswith(tuple(
            f"{group.container}{index}." for index in group.indices))]
        others = {child for child, _ in listing.named_children()} != {str(index) for index in group.indices} or (
            listing is not owner and {child for child, _ in owner.named_children()} != {group.container.rstrip(".")})
        if own_tensors or others:
            return layers
    if not group.prefix:
        raise SharekanError("the module itself is a KAN, which cannot be swapped in place; use "
                            "sk.compress(sk.load_model(...)) or compress_ on a module that holds it")
    return [group.prefix.rstrip(".")]


def calibration_from(module: nn.Module, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The inputs each KAN inside ``module`` sees when ``module(inputs)`` runs, by the KAN's name, (N, in) each:
    captured with forward hooks, so a head's calibration never needs the backbone run by hand."""
    captured: dict[str, torch.Tensor] = {}

    def rows(inputs: torch.Tensor) -> torch.Tensor:
        return inputs.detach().reshape(-1, inputs.shape[-1])

    stacks = {name: dense_stack(module.get_submodule(name), name, live_activation(module.get_submodule(name), name))
              for name in torchkan_names(module)}
    hooks = [kan.register_forward_pre_hook(lambda unit, args, name=name: captured.__setitem__(name, rows(args[0])))
             for name, kan in kan_modules(module).items()]
    hooks += [module.get_submodule(name).register_forward_pre_hook(  # a torchkan KAN's layers: '<name>.layers.N'
        lambda unit, args, stack=stack, name=name: captured.update(stack.layer_inputs(args[0], name)))
        for name, stack in stacks.items()]
    try:
        with torch.no_grad():
            module(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def compress_(module: nn.Module, config: object, calibration: dict[str, torch.Tensor] | None = None,
              filter_fn: Callable[[nn.Module, str], bool] | None = None) -> dict[str, CompressedKAN | CompressedBasisLayer]:
    """Swap every KAN inside ``module`` (those ``filter_fn(kan, name)`` accepts) for its compressed-domain
    ``CompressedHead``, in place; return the compressed KANs by name (``sk.save_compressed`` writes each).
    ``calibration`` maps a KAN's name to (N, in) inputs, as ``calibration_from`` returns them. FastKAN and ChebyKAN
    layers become ``CompressedBasisHead``s (their LayerNorm dense), returned as ``CompressedBasisLayer``s. A torchkan
    KAN becomes a ``TorchKANStack`` whose layers are swapped one by one ('<name>.layers.N'), its norms kept."""
    originals = swap_in_stacks(module, live_activation)
    try:
        compressed = _compress_swapped(module, config, calibration, filter_fn)
    except BaseException:
        restore(module, originals)
        raise
    restore(module, originals, list(compressed))
    return compressed


def _compress_swapped(module: nn.Module, config: object, calibration: dict[str, torch.Tensor] | None,
                      filter_fn: Callable[[nn.Module, str], bool] | None) -> dict[str, CompressedKAN | CompressedBasisLayer]:
    """compress_ once any torchkan KAN is a stack of dense layers: compress the chosen KANs, then swap them."""
    basis_layers = basis_layer_names(module)
    refuse_torchkan({key: value for key, value in module.state_dict().items()  # never left dense unsaid
                     if not under_basis_layers(key, basis_layers)}, type(module).__name__)
    compressed: dict[str, CompressedKAN | CompressedBasisLayer] = {}
    chosen = {name: kan for name, kan in kan_modules(module).items() if filter_fn is None or filter_fn(kan, name)}
    families = {name: family for name, family in basis_layers.items() if name in chosen}
    compressed.update(compress_basis_layers(module, families, config, {name: values.cpu().numpy() for name, values
                                                                       in (calibration or {}).items()}))
    for name, kan in chosen.items():
        if name in basis_layers:
            continue
        loaded = model_from_tensors(kan.state_dict(), f"{type(module).__name__}.{name}", None, live_activation(kan, name))
        samples = None if calibration is None or name not in calibration else calibration[name].cpu().numpy()
        compressed[name] = compress(loaded.model, config, samples)
        families[name] = loaded.source_format
    for name, result in compressed.items():
        parent, _, attribute = name.rpartition(".")
        head = basis_head(result) if name in basis_layers else CompressedHead(result)
        head.swapped_from = swapped_from(chosen[name], families[name])  # decompressed_state_dict's way back
        setattr(module.get_submodule(parent) if parent else module, attribute, head)
    return compressed


def live_activation(kan: nn.Module, name: str) -> str:
    """The base activation of the KAN ``kan``: its activation modules (one kind, at its defaults), or kanx's name."""
    names = {KANX_ACTIVATIONS.get(str(layer.base_activation_name).lower(), str(layer.base_activation_name))
             for layer in kan.modules() if hasattr(layer, "base_activation_name")}
    names |= {layer.base_activation for layer in kan.modules() if isinstance(layer, KANLayer)}  # torchkan's, imported
    for child in kan.modules():  # each activation module, named by what it computes on a probe, not by its repr
        if child is not kan and not list(child.children()) and not list(child.parameters(recurse=False)) \
                and not list(child.buffers(recurse=False)):
            names.add(reproduced_activation(child, f"{name}: holds a module that is not a base activation the "
                                                   "compressor can reproduce:"))
    if len(names) != 1:
        raise SharekanError(f"{name}: base activation {'unknown' if not names else 'ambiguous: ' + ', '.join(sorted(names))}"
                            "; compress it from a file with sk.load_model(..., base_activation=...) instead")
    return names.pop()
