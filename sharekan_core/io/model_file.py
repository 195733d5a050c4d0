"""The project's model format (safetensors + JSON metadata) and the format-sniffing loader."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save as save_bytes

from ..errors import SharekanError
from ..model import KAN
from ..model.basis_kan import BasisKAN
from ..model.kan import BASE_ACTIVATIONS, DEFAULT_ACTIVATION
from .atomic import write_bytes_atomic
from ..ranges import ZERO_BASE
from .basis_net import basis_kan_from
from .convkan import convkan_layers
from .deep_kan import UniformGrid, deep_kan_layers, stated_knots
from .efficient_kan import efficient_kan_layers, kan_from_state
from .flashkan import flashkan_layers
from .inkan import inkan_layers
from .kan_groups import (BASIS_FAMILIES, CONVKAN, DEEP_KAN, EFFICIENT_KAN, FLASHKAN, INKAN, KANX, PYKAN, KANGroup,
                         check_all_used, find_kan_groups, group_tensors, normalized_prefix, outside_prefix, select_group)
from .kanx import kanx_layers
from .layer_tensors import ImportedLayers
from .pykan import pykan_base_function, pykan_checkpoint_file, pykan_to_layers, read_pykan_config
from .torchkan import TORCHKAN, torchkan_basis_kan, torchkan_layer_count, torchkan_prefixes
from .tensors import (SAFETENSORS, decode_header, encode_header, header_field, read_safetensors,
                      read_torch_checkpoint, sniff_format)

MODEL_FORMAT = "sharekan-model"
COMPRESSED_FORMAT = "sharekan-compressed"
# Each family's importer into efficient-kan's layout, by the family kan_groups finds (pykan also reads its config).
FAMILY_IMPORTERS = {EFFICIENT_KAN: efficient_kan_layers, FLASHKAN: flashkan_layers, INKAN: inkan_layers,
                    KANX: kanx_layers, DEEP_KAN: deep_kan_layers, CONVKAN: convkan_layers}


@dataclass
class LoadedModel:
    """A KAN read from disk, with the free-form metadata stored beside it, where in the file it was found
    (``prefix``), every KAN-shaped group the file holds, and the keys of the tensors outside the prefix."""

    model: KAN | BasisKAN  # a BasisKAN only where the reader was asked for one (``basis=True``)
    metadata: dict = field(default_factory=dict)
    source_format: str = MODEL_FORMAT
    prefix: str = ""
    kan_groups: list[dict] = field(default_factory=list)
    keys_outside_prefix: list[str] = field(default_factory=list)  # the rest of a bigger model, not imported
    container: str | None = "layers."  # a BasisKAN's: where its layers sat under the prefix ('layers.', '', None)

    @property
    def tensors_outside_prefix(self) -> int:
        """How many of the file's tensors lie outside the KAN's prefix."""
        return len(self.keys_outside_prefix)


def save_model(model: KAN, path: str | Path, metadata: dict | None = None) -> None:
    """Write ``model`` as safetensors with its metadata and base activation, atomically.

    The bytes are built in memory and written by ``write_bytes_atomic``: safetensors' own
    ``save_file`` keeps a temporary file of its own that a kill would leave behind.
    """
    tensors = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    header = encode_header({"format": MODEL_FORMAT, "version": "1", "metadata": metadata or {},
                            "base_activation": model.config.base_activation})
    write_bytes_atomic(path, save_bytes(tensors, metadata=header))


def read_model(path: str | Path, prefix: str | None = None, base_activation: str | None = None,
               grid: UniformGrid | str | None = None, *, basis: bool = False, between: str | None = None) -> LoadedModel:
    """Load a KAN from the project's format, an efficient-kan state_dict or a pykan checkpoint (by the prefix
    given to ``saveckpt``, its ``_state`` file or its ``_config.yml``).

    ``prefix`` picks the KAN inside a bigger model ('head.'); with one KAN in the file it is found on its own.
    Every tensor under the prefix must be one the importer uses, or the file is refused by name.
    ``base_activation`` states the base branch's activation where the file does not record it: the project's
    files and pykan's saveckpt record it, a bare efficient-kan or pykan state dict does not and is refused
    without it (guessing SiLU would import a GELU model with a few percent of output error, an Identity
    one with over half, and no warning).
    ``grid`` states the uniform knot grid ('G,k,LOW,HIGH' or a ``UniformGrid``) of a family that does not save its
    knots (deep-kan); a file that records them is refused with it.
    ``basis=True`` also reads a FastKAN, ChebyKAN or Gram/KAGN net (``io.basis_net``) as a BasisKAN; without it,
    such a file is refused naming the commands that take it. ``between='layernorm'`` states that the modules
    holding tensors between such a net's layers are LayerNorms.
    """
    path = pykan_checkpoint_file(Path(path))
    _stated_activation(base_activation)
    tensors, header = _read_tensors(path)
    return model_from_tensors(tensors, path.name, prefix, base_activation, grid, header=header,
                              pykan_config=read_pykan_config(path), basis=basis, between=between)


def model_from_tensors(tensors: dict[str, torch.Tensor], source: str, prefix: str | None = None,
                       base_activation: str | None = None, grid: UniformGrid | str | None = None, *,
                       header: dict | None = None, pykan_config: dict | None = None,
                       basis: bool = False, between: str | None = None) -> LoadedModel:
    """``read_model`` on tensors already in memory (a module's ``state_dict()``, a file's tensors); ``source``
    names them in errors, ``header`` is a project file's header and ``pykan_config`` a top-level pykan config."""
    header = header or {}
    stated = _stated_activation(base_activation)
    ours = header.get("format") == MODEL_FORMAT
    metadata = header_field(header, "metadata", dict, source) if ours else {}
    recorded = _recorded_activation(header, source) if ours else None
    groups = find_kan_groups(tensors)
    torchkan_at = _torchkan_prefix(tensors, groups, prefix, source)
    if torchkan_at is not None:
        return _torchkan_model(tensors, groups, torchkan_at, source, stated, grid, basis, between)
    group = select_group(groups, tensors, prefix, source)
    if group.family in BASIS_FAMILIES:
        return _basis_model(tensors, groups, group, source, stated, grid, basis, between)
    if between is not None:
        raise SharekanError(f"{source}: --between (between=) applies to FastKAN, ChebyKAN and Gram nets; this is a "
                            f"{group.family} KAN")
    layer_tensors, origin = group_tensors(tensors, group)
    if group.family == PYKAN:
        config = pykan_config if group.prefix == "" else None
        recorded, family_source = pykan_base_function(config, source), "pykan"
        layer_tensors, used = pykan_to_layers(layer_tensors, config, source, group.prefix)
        check_all_used(tensors, group, {origin[name] for name in used}, source)
        names: dict[str, str] = {}
    else:
        family_source = MODEL_FORMAT if ours else group.family
        imported = FAMILY_IMPORTERS[group.family](layer_tensors, origin, source)
        check_all_used(tensors, group, {origin[name] for name in imported.used}, source)
        _add_stated_knots(imported, group.family, grid, source)
        layer_tensors, names = imported.tensors, imported.names
    activation = _resolve_activation(recorded, stated, source)
    model = kan_from_state(layer_tensors, source, activation or "silu", names)  # the file's own faults come first
    if activation is None:
        _refuse_unrecorded(group.family, source)
    return LoadedModel(model, metadata, family_source, group.prefix, [g.summary() for g in groups],
                       outside_prefix(tensors, group))


def _basis_model(tensors: dict[str, torch.Tensor], groups: list[KANGroup], group: KANGroup, source: str,
                 stated: str | None, grid: UniformGrid | str | None, basis: bool, between: str | None) -> LoadedModel:
    """A FastKAN, ChebyKAN or Gram group read as a BasisKAN, every tensor under its prefix used or the file refused."""
    if not basis:
        _refuse_basis_here(f"{group.family} net", group.prefix, source)
    if grid is not None:
        raise SharekanError(f"{source}: --grid (grid=) states a deep-kan file's knots; a {group.family} file records "
                            "its own basis, drop it")
    layer_tensors, origin = group_tensors(tensors, group)
    net, used = basis_kan_from(layer_tensors, origin, group, source, stated, between)
    check_all_used(tensors, group, used, source)
    return LoadedModel(net, {}, group.family, group.prefix, [g.summary() for g in groups], outside_prefix(tensors, group),
                       group.container)


def _refuse_basis_here(what: str, prefix: str, source: str) -> None:
    """Raise the error of a command that takes B-spline KANs only, for a file holding ``what`` at ``prefix``."""
    where = f" at prefix {prefix!r}" if prefix else ""
    raise SharekanError(f"{source}: holds a {what}{where}, which this command does not take; inspect, compress "
                        "(SHARe-KAN), predict, evaluate, export and decompress read it (sk.load_model in the API)")


def _torchkan_prefix(tensors: dict[str, torch.Tensor], groups: list[KANGroup], prefix: str | None,
                     source: str) -> str | None:
    """The prefix of the torchkan KAN to read: the one ``prefix`` names, or the file's only KAN; None otherwise."""
    found = torchkan_prefixes(list(tensors))
    if not found:
        return None
    if prefix is not None:
        return normalized_prefix(prefix) if normalized_prefix(prefix) in found else None
    if len(found) == 1 and not groups:
        return found[0]
    listed = [g.label() for g in groups] + [f"{p or '(top level)'!r} ({TORCHKAN})" for p in found]
    raise SharekanError(f"{source}: holds {len(listed)} KANs, at {', '.join(listed[:6])}; pass --prefix (prefix= in "
                        "the API) naming one")


def _torchkan_model(tensors: dict[str, torch.Tensor], groups: list[KANGroup], at: str, source: str,
                    stated: str | None, grid: UniformGrid | str | None, basis: bool,
                    between: str | None) -> LoadedModel:
    """A torchkan KAN read as a BasisKAN of torchkan layers (its LayerNorm and PReLU after each), every tensor under
    its prefix used or the file refused."""
    if not basis:
        _refuse_basis_here(f"{TORCHKAN} KAN", at, source)
    for option, value in (("--grid (grid=)", grid), ("--between (between=)", between)):
        if value is not None:
            raise SharekanError(f"{source}: {option} does not apply to a {TORCHKAN} KAN, which records its knots "
                                "and the LayerNorm and PReLU after each layer; drop it")
    if stated is None:
        raise SharekanError(f"{source}: a {TORCHKAN} state dict does not record its base activation; state gelu "
                            f"({TORCHKAN}'s default) or the one the model was built with ({STATE_IT})")
    net, used = torchkan_basis_kan(tensors, at, source, stated)
    group = KANGroup(at, TORCHKAN, None, tuple(range(len(net.layers))))
    check_all_used(tensors, group, used, source)
    return LoadedModel(net, {}, TORCHKAN, at, [g.summary() for g in groups] + [group.summary()],
                       outside_prefix(tensors, group), None)


def load_model(path: str | Path, prefix: str | None = None, base_activation: str | None = None,
               grid: UniformGrid | str | None = None, between: str | None = None) -> KAN | BasisKAN:
    """Load a KAN from any supported format (see ``read_model`` for ``prefix``, ``base_activation``, ``grid`` and
    ``between``): a B-spline KAN as a ``KAN``, a FastKAN, ChebyKAN or Gram/KAGN net as a ``BasisKAN``.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("my_efficient_kan.pt", base_activation="gelu")  # doctest: +SKIP
    """
    return read_model(path, prefix, base_activation, grid, basis=True, between=between).model


def kan_groups_in(path: str | Path) -> list[dict]:
    """The KAN-shaped groups of tensors in a checkpoint (prefix, family, layers), without importing any."""
    tensors, _ = _read_tensors(pykan_checkpoint_file(Path(path)))
    torchkans = [{"prefix": prefix, "family": TORCHKAN, "layers": torchkan_layer_count(list(tensors), prefix)}
                 for prefix in torchkan_prefixes(list(tensors))]
    return [group.summary() for group in find_kan_groups(tensors)] + torchkans


def _read_tensors(path: Path) -> tuple[dict, dict]:
    """A model file's tensors by name and its project header ({} for a torch checkpoint or foreign file)."""
    if sniff_format(path) != SAFETENSORS:
        return read_torch_checkpoint(path), {}
    tensors, raw = read_safetensors(path)
    header = decode_header(raw, path)
    if header.get("format") == COMPRESSED_FORMAT:
        raise SharekanError(f"{path.name}: is a compressed SHARe-KAN file, not a dense model (use 'decompress' first)")
    return tensors, header


def _add_stated_knots(imported: ImportedLayers, family: str, grid: UniformGrid | str | None, source: str) -> None:
    """Put the stated grid's knots into a family's layers that do not record them; refuse a missing or needless one."""
    if imported.knots_recorded:
        if grid is not None:
            raise SharekanError(f"{source}: the file records its knots; drop --grid (grid= in the API)")
        return
    if grid is None:
        raise SharekanError(f"{source}: a {family} file does not save its knots; state the grid it was built with as "
                            "G,k,LOW,HIGH (--grid on the command line, grid= in the API; deep-kan's defaults are 5,3,-1,1)")
    if isinstance(grid, str):
        try:
            grid = UniformGrid.parse(grid)
        except ValueError as exc:
            raise SharekanError(str(exc)) from None
    stated_knots(imported, grid, source)


def _stated_activation(name: str | None) -> str | None:
    if name is not None and name not in (*BASE_ACTIVATIONS, ZERO_BASE):
        raise SharekanError(f"unknown base activation {name!r}; choose one of {', '.join((*BASE_ACTIVATIONS, ZERO_BASE))}")
    return name


def _recorded_activation(header: dict, source: str) -> str:
    name = header.get("base_activation", DEFAULT_ACTIVATION)
    if name not in BASE_ACTIVATIONS:
        raise SharekanError(f"{source}: header names an unknown base activation {str(name)[:40]!r}")
    return name


def _resolve_activation(recorded: str | None, stated: str | None, source: str) -> str | None:
    """The file's record, else the user's statement, else None; a mismatch between them is an error."""
    if recorded is not None and stated is not None and recorded != stated:
        raise SharekanError(f"{source}: the file records base activation {recorded!r}, but {stated!r} was stated; "
                            "drop --base-activation (base_activation=) or correct it")
    return recorded or stated


STATE_IT = "--base-activation on the command line, base_activation= in the API, 'Base activation' in the studio"


def _refuse_unrecorded(family: str, source: str) -> None:
    """Raise the error for a file that does not record its base activation when none was stated."""
    if family == PYKAN:
        raise SharekanError(f"{source}: a pykan state dict without its _config.yml does not record its base function; "
                            f"put the _config.yml beside it, or state silu (pykan's default), identity or zero ({STATE_IT})")
    raise SharekanError(f"{source}: a{'n' * family.startswith(('e', 'i'))} {family} state dict does not record its base "
                        f"activation; state silu ({family}'s default) or the one the model was built with, such as gelu "
                        f"or identity ({STATE_IT})")
