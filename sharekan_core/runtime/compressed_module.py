"""Save a module that ``compress_`` changed and restore it into a fresh copy of the user's model, in torchao's style.

``compressed_state_dict(net)`` is ``net.state_dict()`` with each compressed KAN's stored form in place of its
runtime buffers: under the KAN's name, the compressed file's tensors (``head.codebooks.0.payload``,
``head.layers.0.indices``, ...) and its JSON header, checksum included, as one uint8 tensor
(``head.compressed_header``), so ``safetensors.torch.save_file`` or ``torch.save`` keeps everything. A compressed
FastKAN, ChebyKAN or Gram layer is stored the same way in ``format/basis_file``'s form, its header under
``<name>.compressed_basis_header``. The rest (backbone, norms) is the module's own dense tensors.

Example::

    >>> sk.compress_(net, sk.CompressionConfig(codebook_size=64))                       # doctest: +SKIP
    >>> safetensors.torch.save_file(sk.compressed_state_dict(net), "net.safetensors")   # doctest: +SKIP
    >>> fresh = MyNet()                                                                 # doctest: +SKIP
    >>> sk.load_compressed_into(fresh, "net.safetensors")  # its KAN head swapped, every tensor restored
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import nn

from ..compression.basis_compressor import CompressedBasisLayer
from ..compression.compressed import CompressedKAN
from ..errors import SharekanError
from ..format.basis_file import (BASIS_FORMAT, BASIS_KIND, BASIS_VERSION, basis_arrays, basis_fields, basis_layer_from,
                                 basis_signature)
from ..format.compressed_file import COMPRESSED_KIND, checked_arrays, compressed_fields, compressed_from, stored_tensors
from ..format.integrity import CHECKSUM_FIELD, checksum
from ..io.model_file import COMPRESSED_FORMAT, model_from_tensors
from ..io.tensors import SAFETENSORS, read_safetensors, read_torch_checkpoint, sniff_format
from .basis_in_place import basis_layer_names, live_basis_layer
from .compressed_basis import CompressedBasisHead
from .in_place import CompressedHead, kan_modules, live_activation
from .swap_record import SwappedFrom, swapped_from
from .torchkan_in_place import restore, swap_in_stacks

HEADER_TENSOR = "compressed_header"  # '<name>.compressed_header': a compressed KAN's JSON header as uint8
BASIS_HEADER_TENSOR = "compressed_basis_header"  # the same for a compressed FastKAN, ChebyKAN or Gram layer


def compressed_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module``'s tensors with every ``CompressedHead`` and ``CompressedBasisHead`` as its stored form (codes and
    header) under its name, ready for ``safetensors.torch.save_file`` or ``torch.save``; ``load_compressed_into``
    reads it back."""
    heads = {name: child for name, child in module.named_modules()
             if isinstance(child, (CompressedHead, CompressedBasisHead))}
    if not heads:
        raise SharekanError(f"{type(module).__name__} holds no compressed KAN; run sk.compress_ on it first")
    state = {key: value.detach().clone() for key, value in module.state_dict().items()
             if _owner(key, heads) is None}
    for name, head in heads.items():
        if isinstance(head, CompressedBasisHead):
            arrays, fields = basis_arrays(head.compressed), basis_fields(head.compressed)
            header_name = BASIS_HEADER_TENSOR
        else:
            arrays = {t.name: np.ascontiguousarray(t.array) for t in stored_tensors(head.compressed)}
            fields, header_name = compressed_fields(head.compressed), HEADER_TENSOR
        header = json.dumps({**fields, CHECKSUM_FIELD: checksum(fields, arrays)}, sort_keys=True).encode()
        state[f"{name}.{header_name}"] = torch.frombuffer(bytearray(header), dtype=torch.uint8)
        state.update({f"{name}.{key}": torch.from_numpy(array.copy()) for key, array in arrays.items()})
    return state


def load_compressed_into(module: nn.Module, source: str | Path | Mapping[str, torch.Tensor]
                         ) -> dict[str, CompressedKAN | CompressedBasisLayer]:
    """Swap each KAN (or FastKAN, ChebyKAN, Gram layer) of ``module`` that ``source`` (a file or dict written from
    ``compressed_state_dict``) holds compressed for its compressed-domain module and load every other tensor;
    return the compressed KANs and layers by name. Everything is checked before ``module`` changes: a bad file
    leaves it as it was."""
    tensors, label = _read(source)
    names, basis_names = _stored_under(tensors, HEADER_TENSOR), _stored_under(tensors, BASIS_HEADER_TENSOR)
    if not names and not basis_names:
        raise SharekanError(f"{label}: holds no compressed KAN (no '<name>.{HEADER_TENSOR}' tensor); write it with "
                            "sk.compressed_state_dict(module) after sk.compress_")
    compressed: dict[str, CompressedKAN | CompressedBasisLayer] = {name: _compressed(tensors, name, label)
                                                                   for name in names}
    compressed.update({name: _basis_layer(tensors, name, label) for name in basis_names})
    originals = swap_in_stacks(module, live_activation)  # a torchkan KAN's layers are saved as '<name>.layers.N'
    restore(module, originals, list(compressed))
    try:
        records = {name: (_check_basis_fits if isinstance(kan, CompressedBasisLayer) else _check_fits)(
            module, name, kan, label) for name, kan in compressed.items()}
        rest = {key: value for key, value in tensors.items() if _owner(key, compressed) is None}
        _check_rest(module, rest, compressed, label)
    except BaseException:
        restore(module, originals)
        raise
    for name, kan in compressed.items():
        parent, _, attribute = name.rpartition(".")
        head = CompressedBasisHead(kan) if isinstance(kan, CompressedBasisLayer) else CompressedHead(kan)
        head.swapped_from = records[name]  # what it replaces, for decompressed_state_dict
        setattr(module.get_submodule(parent) if parent else module, attribute, head)
    module.load_state_dict(rest, strict=False)
    return compressed


def _read(source: str | Path | Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    if isinstance(source, Mapping):
        return dict(source), "state dict"
    path = Path(source)  # sniff_format refuses anything but safetensors and torch checkpoints
    return (read_safetensors(path)[0] if sniff_format(path) == SAFETENSORS else read_torch_checkpoint(path)), path.name


def _stored_under(tensors: Mapping[str, torch.Tensor], header_name: str) -> list[str]:
    """The names under which ``tensors`` hold a '<name>.<header_name>' header."""
    return [key[: -len(header_name) - 1] for key in tensors if key.endswith("." + header_name)]


def _compressed(tensors: dict[str, torch.Tensor], name: str, label: str) -> CompressedKAN:
    """The compressed KAN stored under ``name``: its header decoded, checksum verified, every shape validated."""
    header, own, source = _header(tensors, name, HEADER_TENSOR, COMPRESSED_FORMAT, "a compressed KAN's", label)
    return compressed_from(header, checked_arrays(header, own, COMPRESSED_KIND, source), source)


def _basis_layer(tensors: dict[str, torch.Tensor], name: str, label: str) -> CompressedBasisLayer:
    """The compressed FastKAN, ChebyKAN or Gram layer stored under ``name``, checked as ``_compressed`` checks."""
    header, own, source = _header(tensors, name, BASIS_HEADER_TENSOR, BASIS_FORMAT, "a compressed basis layer's",
                                  label)
    return basis_layer_from(header, checked_arrays(header, own, BASIS_KIND, source, (BASIS_VERSION,)), source)


def _header(tensors: dict[str, torch.Tensor], name: str, header_name: str, expected: str, kind: str,
            label: str) -> tuple[dict, dict[str, torch.Tensor], str]:
    """The JSON header '<name>.<header_name>' (its format ``expected``), the tensors stored under ``name`` beside it,
    and the name errors give it."""
    source = f"{label}: {name}"
    raw = tensors[f"{name}.{header_name}"]
    try:
        header = json.loads(raw.numpy().tobytes()) if raw.dtype == torch.uint8 and raw.dim() == 1 else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != expected:
        raise SharekanError(f"{source}.{header_name} is not {kind} header")
    own = {key[len(name) + 1:]: value for key, value in tensors.items()
           if key.startswith(name + ".") and key != f"{name}.{header_name}"}
    return header, own, source


def _check_fits(module: nn.Module, name: str, kan: CompressedKAN, label: str) -> SwappedFrom | None:
    """Refuse a compressed KAN whose place in ``module`` is not a KAN (or compressed KAN) of the same widths and
    base activation; return the record of what that place held (the KAN's family and layout)."""
    place = _place(module, name, label)
    widths = [kan.layers[0].in_features, *(layer.out_features for layer in kan.layers)]
    if isinstance(place, CompressedHead):
        have = [place.compressed.layers[0].in_features, *(layer.out_features for layer in place.compressed.layers)]
        activation, record = place.compressed.base_activation, place.swapped_from
    elif name in kan_modules(module):
        activation = live_activation(place, name)
        loaded = model_from_tensors(place.state_dict(), f"{type(module).__name__}.{name}", None, activation)
        have, record = list(loaded.model.config.widths), swapped_from(place, loaded.source_format)
    else:
        raise SharekanError(f"{label}: holds a compressed KAN at {name!r}, but {type(module).__name__}.{name} is "
                            f"{type(place).__name__}, not a KAN")
    if have != widths:
        raise SharekanError(f"{label}: the compressed KAN at {name!r} has widths {widths}, but "
                            f"{type(module).__name__}.{name} has {have}")
    if activation != kan.base_activation:  # loading it would silently change the module's function
        raise SharekanError(f"{label}: the compressed KAN at {name!r} was compressed from a KAN with base activation "
                            f"{kan.base_activation!r}, but {type(module).__name__}.{name} computes {activation!r}")
    return record


def _check_basis_fits(module: nn.Module, name: str, layer: CompressedBasisLayer, label: str) -> SwappedFrom | None:
    """Refuse a compressed basis layer whose place in ``module`` is not a layer (dense or compressed) of the same
    family, shape, base branch and basis parameters; return the record of what that place held."""
    place = _place(module, name, label)
    if isinstance(place, CompressedBasisHead):
        have, record = basis_signature(place.compressed), place.swapped_from
    elif name in (families := basis_layer_names(module)):
        have = basis_signature(live_basis_layer(place, name, families[name]))
        record = swapped_from(place, families[name])
    else:
        raise SharekanError(f"{label}: holds a compressed layer at {name!r}, but {type(module).__name__}.{name} is "
                            f"{type(place).__name__}, not a FastKAN, ChebyKAN or Gram layer")
    for key, value in basis_signature(layer).items():
        if have[key] != value:
            raise SharekanError(f"{label}: the compressed layer at {name!r} has {key} {value}, but "
                                f"{type(module).__name__}.{name} has {have[key]}")
    return record


def _place(module: nn.Module, name: str, label: str) -> nn.Module:
    """``module``'s submodule ``name``, or a SharekanError saying the stored part has no place there."""
    try:
        return module.get_submodule(name)
    except AttributeError:
        raise SharekanError(f"{label}: holds a compressed KAN at {name!r}, but {type(module).__name__} has no "
                            f"submodule {name!r}; load it into the model it was compressed from") from None


def _check_rest(module: nn.Module, rest: dict[str, torch.Tensor], compressed: Mapping[str, object],
                label: str) -> None:
    """Refuse unless ``rest`` holds exactly the module's tensors outside its KANs, each of the module's shape."""
    expected = {key: value for key, value in module.state_dict().items() if _owner(key, compressed) is None}
    missing = [key for key in expected if key not in rest]
    unexpected = [key for key in rest if key not in expected]
    if missing or unexpected:
        parts = [f"lacks {_few(missing)}" if missing else "", f"holds {_few(unexpected)} that the module has not"
                 if unexpected else ""]
        raise SharekanError(f"{label}: does not fit {type(module).__name__}: it {' and '.join(p for p in parts if p)}")
    for key, value in expected.items():
        if tuple(rest[key].shape) != tuple(value.shape):
            raise SharekanError(f"{label}: {key} has shape {tuple(rest[key].shape)}, but "
                                f"{type(module).__name__}.{key} has {tuple(value.shape)}")


def _owner(key: str, names: Mapping[str, object]) -> str | None:
    """The compressed KAN whose name prefixes ``key``, or None."""
    return next((name for name in names if key.startswith(name + ".")), None)


def _few(keys: list[str], shown: int = 4) -> str:
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
