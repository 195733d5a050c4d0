"""Put a module that ``compress_`` changed back into its libraries' own layouts: ``decompressed_state_dict(net)``.

The result is the state dict of the *original, uncompressed* module: every compressed part decoded to dense
coefficients and written under its name in the layout of the library it replaced (recorded at the swap, in
``swapped_from``), so ``fresh = MyNet(); fresh.load_state_dict(sk.decompressed_state_dict(net), strict=True)``
rebuilds the user's own classes. Everything outside the compressed parts is copied as is.

    CompressedHead        efficient-kan (a KAN or one KANLinear), or another B-spline family's layout where
                          ``io.layouts`` writes exactly the replaced module's tensors; otherwise refused by name
    CompressedBasisHead   FastKAN, ChebyKAN or Gram/KAGN (``io.fastkan`` / ``io.chebykan`` / ``io.gram``)
    TorchKANStack         torchkan: base_weights.N, spline_weights.N, (spline_scalers.N), grid_N, layer_norms.N.*,
                          prelus.N.*

Example::

    >>> sk.compress_(net, sk.CompressionConfig(codebook_size=64))                       # doctest: +SKIP
    >>> fresh = MyNet()                                                                 # doctest: +SKIP
    >>> fresh.load_state_dict(sk.decompressed_state_dict(net), strict=True)            # doctest: +SKIP
"""
from __future__ import annotations

import torch
from torch import nn

from ..compression.basis_compressor import decompress_basis_layer
from ..compression.compressed import decompress
from ..errors import SharekanError
from ..io.basis_net import BASIS_STATES
from ..io.efficient_kan import efficient_kan_state
from ..io.export_parts import exported_layers
from ..io.kan_groups import EFFICIENT_KAN
from ..io.layouts import layout_state
from ..io.torchkan import TORCHKAN, torchkan_layer_state
from ..model.kan import KAN, KANConfig, KANLayer
from .compressed_basis import CompressedBasisHead
from .compressed_module import _few
from .in_place import CompressedHead
from .swap_record import SwappedFrom
from .torchkan_in_place import TorchKANStack

PARTS = (CompressedHead, CompressedBasisHead, TorchKANStack)  # what compress_ swaps in
ONE_LAYER = "layers.0."  # a KAN's layout of one layer, for a part that replaced a single layer


def decompressed_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``module`` before ``compress_``: each compressed part decoded to dense coefficients in the
    layout of the library it replaced, loadable strictly into a fresh copy of the original model; the rest copied.
    A module with nothing compressed gives its own state dict; a part whose origin was not recorded is refused."""
    parts = _outermost_parts(module)
    decoded = {name: _part_state(name, part) for name, part in parts.items()}
    state: dict[str, torch.Tensor] = {}
    for key, value in module.state_dict().items():  # the module's own order, each part where its tensors were
        owner = next((name for name in parts if key.startswith(name + ".")), None)
        if owner is None:
            state[key] = value.detach().clone()
        else:
            state.update({f"{owner}.{own}": tensor for own, tensor in decoded[owner].items()})
    for name, tensors in decoded.items():  # a part whose runtime form holds no tensors
        state.update({f"{name}.{own}": tensor for own, tensor in tensors.items()})
    return state


def _outermost_parts(module: nn.Module) -> dict[str, nn.Module]:
    """Each compressed part by its dotted name, leaving out those inside another (a TorchKANStack's heads)."""
    parts: dict[str, nn.Module] = {}
    for name, child in module.named_modules():
        if isinstance(child, PARTS) and not any(name.startswith(outer + ".") for outer in parts):
            if not name:
                raise SharekanError(f"the module itself is a {type(child).__name__}; call decompressed_state_dict on "
                                    "the module compress_ was called on")
            parts[name] = child
    return parts


def _part_state(name: str, part: nn.Module) -> dict[str, torch.Tensor]:
    """``part`` decoded, in the layout of what it replaced, its keys relative to ``name``."""
    record = getattr(part, "swapped_from", None)
    if not isinstance(record, SwappedFrom):
        raise SharekanError(f"{name}: a {type(part).__name__} whose original library was not recorded (it was not "
                            "swapped in by sk.compress_ or sk.load_compressed_into), so its layout is unknown; "
                            "use sk.decompress on its compressed KAN instead")
    if isinstance(part, TorchKANStack):
        state = _torchkan_state(name, part, record)
    elif isinstance(part, CompressedBasisHead):
        if record.family not in BASIS_STATES:
            raise SharekanError(f"{name}: a compressed basis layer recorded as {record.family!r}, which has no layout "
                                f"here ({', '.join(BASIS_STATES)})")
        state = BASIS_STATES[record.family](decompress_basis_layer(part.compressed))
    else:
        state = _bspline_state(name, part, record)
    return _checked(name, state, record)


def _bspline_state(name: str, head: CompressedHead, record: SwappedFrom) -> dict[str, torch.Tensor]:
    """A CompressedHead decoded in its family's layout: the whole KAN's, or its first layer's without 'layers.0.'
    where the head replaced one layer; for this project's own KAN, the KAN's own state dict."""
    model = decompress(head.compressed)
    if record.family == EFFICIENT_KAN and any(key.endswith("output_scale") for key in record.keys):
        state = dict(model.state_dict())  # this project's own KAN (or KANLayer)
    elif record.family == EFFICIENT_KAN:  # without spline_scaler: built with enable_standalone_scale_spline=False
        scaler = any(key.endswith("spline_scaler") for key in record.keys)
        state = _named(name, lambda: efficient_kan_state(model, standalone_scaler=scaler))
    else:
        state = _named(name, lambda: layout_state(model, record.family))
    if len(model.layers) == 1 and set(state) != set(record.keys) \
            and {key.removeprefix(ONE_LAYER) for key in state} == set(record.keys):
        return {key.removeprefix(ONE_LAYER): value for key, value in state.items()}
    return state  # _checked refuses it, by name, unless it holds exactly the replaced module's tensors


def _torchkan_state(name: str, stack: TorchKANStack, record: SwappedFrom) -> dict[str, torch.Tensor]:
    """A TorchKANStack in torchkan's layout: each layer (compressed or left dense) decoded, the scaler folded into
    spline_weights.N unless the KAN held spline_scalers.N (its earlier version), then its own norms and PReLUs."""
    scalers = any(key.startswith("spline_scalers.") for key in record.keys)
    state: dict[str, torch.Tensor] = {}
    for index, layer in enumerate(stack.layers):
        folded = _named(f"{name}.layers.{index}", lambda: exported_layers(_layer_kan(layer), TORCHKAN)[0])
        state.update(torchkan_layer_state(
            index, base_weight=folded.base_weight,
            spline_weight=folded.spline_weight if scalers else folded.scaled_spline_weight(),
            spline_scaler=folded.spline_scaler if scalers else None, grid=folded.grid))
    for owner in ("layer_norms", "prelus"):
        if getattr(stack, owner) is not None:
            state.update({f"{owner}.{key}": value.detach().clone() for key, value in getattr(stack, owner).state_dict().items()})
    return state


def _layer_kan(layer: nn.Module) -> KAN:
    """One layer of a TorchKANStack as a dense one-layer KAN: decoded from its codes, or the dense layer itself."""
    if isinstance(layer, CompressedHead):
        return decompress(layer.compressed)
    if not isinstance(layer, KANLayer):
        raise SharekanError(f"a torchkan stack holds {type(layer).__name__}, neither a KAN layer nor a compressed one")
    kan = KAN(KANConfig((layer.in_features, layer.out_features), layer.num_coefficients - layer.spline_order,
                        layer.spline_order, base_activation=layer.base_activation))
    kan.layers[0].load_state_dict(layer.state_dict())
    return kan


def _checked(name: str, state: dict[str, torch.Tensor], record: SwappedFrom) -> dict[str, torch.Tensor]:
    """``state`` detached, refused unless it holds exactly the replaced module's keys and shapes."""
    have = {key: tuple(value.shape) for key, value in state.items()}
    wanted = dict(record.layout)
    if have != wanted:
        missing = [key for key in wanted if key not in have]
        wrong = [key for key in wanted if key in have and have[key] != wanted[key]]
        extra = [key for key in have if key not in wanted]
        parts = [f"{what} {_few(keys)}" for what, keys in (("lacks", missing), ("holds another shape of", wrong),
                                                            ("holds", extra)) if keys]
        raise SharekanError(f"{name}: the {record.family} layout decoded from its codes does not fit the module it "
                            f"replaced: it {'; '.join(parts)}; decompressed_state_dict cannot put it back")
    return {key: state[key].detach().clone() for key in wanted}


def _named(name: str, build):
    """``build()``, its SharekanError prefixed with the part's name."""
    try:
        return build()
    except SharekanError as error:
        raise SharekanError(f"{name}: {error}") from None

