"""Find the KAN-shaped groups of tensors in a checkpoint: a KAN saved alone, or a KAN head inside a bigger model.

A group is named by its prefix, the part of its keys before the KAN's own names:

    layers.0.spline_weight           efficient-kan (or this project)     prefix ''
    head.layers.0.spline_weight      a KAN head inside a bigger model    prefix 'head.'
    head.0.spline_weight             KAN layers in an nn.Sequential      prefix 'head.'
    head.spline_weight               one efficient-kan layer              prefix 'head.'
    conv.kan_layer.spline_weight     convkan ConvKAN (4-D, groups first)  prefix 'conv.kan_layer.'
    act_fun.0.coef                   pykan (MultKAN)                      prefix ''
    layers.0.spline_weights          deep-kan (efficient-kan's tensors under plural names, knots not saved)
    layers.0.grid_starts             flashkan (with spline_weight) or inkan (with one packed weight)
    0.spline_weight, 0.grid (in, G+1) kanx (transposed, unextended grid: fewer knots than coefficients + 1)
    layers.0.rbf.grid                FastKAN (a FastKAN net's ModuleList; 'N.rbf.grid' in an nn.Sequential)
    0.cheby_coeffs                   ChebyKAN
    layers.0.beta_weights            torch-conv-kan's Gram/KAGN

``select_group`` picks the group a prefix names (or the only one) and ``group_tensors`` renames its tensors
to ``layers.N.<name>`` (efficient-kan) or pykan's own names, remembering each one's key in the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ..errors import SharekanError
from .chebykan import CHEBYKAN
from .convkan import is_convkan_layer
from .fastkan import FASTKAN
from .gram import GRAM
from .torchkan import refuse_torchkan

EFFICIENT_KAN = "efficient-kan"
PYKAN = "pykan"
FLASHKAN = "flashkan"
INKAN = "inkan"
KANX = "kanx"
DEEP_KAN = "deep-kan"
CONVKAN = "convkan"
B_SPLINE_FAMILIES = (EFFICIENT_KAN, PYKAN, FLASHKAN, INKAN, KANX, DEEP_KAN)
# Global-basis families by the tensor only their layers have (one table for the file importer and compress_).
BASIS_MARKERS = {"rbf.grid": FASTKAN, "cheby_coeffs": CHEBYKAN, "beta_weights": GRAM}
BASIS_FAMILIES = tuple(BASIS_MARKERS.values())
MAX_NAMED = 6  # keys and prefixes an error names before it counts the rest

# The tensor names that mark a KAN layer: efficient-kan's and kanx's spline_weight, deep-kan's spline_weights,
# flashkan's and inkan's grid_starts.
_ANCHORS = r"(spline_weights?|grid_starts)"
_LAYER_LIST = re.compile(rf"^((?:.*?\.)??)(layers\.)?(\d+)\.{_ANCHORS}$")
_ONE_LAYER = re.compile(rf"^((?:.*\.)?){_ANCHORS}$")
_PYKAN_LAYER = re.compile(r"^((?:.*?\.)??)act_fun\.(\d+)\.coef$")
_INDEXED = re.compile(r"^(\d+)\.(.+)$")
_MARKER = "|".join(re.escape(marker) for marker in BASIS_MARKERS)
_BASIS_LIST = re.compile(rf"^((?:.*?\.)??)(layers\.)?(\d+)\.({_MARKER})$")
_BASIS_ONE = re.compile(rf"^((?:.*\.)?)({_MARKER})$")


@dataclass(frozen=True)
class KANGroup:
    """One KAN's tensors in a checkpoint: its prefix, family, and the layer indices its keys name."""

    prefix: str          # '' for a KAN saved alone, 'head.' for a head inside a bigger model
    family: str          # a B_SPLINE_FAMILIES or BASIS_FAMILIES member, or CONVKAN
    container: str | None  # efficient-kan: 'layers.' (ModuleList), '' (nn.Sequential), None (one layer)
    indices: tuple[int, ...]

    def summary(self) -> dict:
        """The group as ``inspect`` lists it."""
        return {"prefix": self.prefix, "family": self.family, "layers": len(self.indices)}

    def label(self) -> str:
        """'head.' (efficient-kan, 2 layers): how errors name the group."""
        layers = len(self.indices)
        return f"{self.prefix or '(top level)'!r} ({self.family}, {layers} layer{'s' * (layers != 1)})"


def find_kan_groups(tensors: dict[str, torch.Tensor]) -> list[KANGroup]:
    """Every KAN-shaped group of ``tensors``, in the order their first keys appear."""
    # (prefix, is pykan, container) -> (layer indices, anchor names seen)
    found: dict[tuple[str, bool, str | None], tuple[set[int], set[str]]] = {}
    for key in tensors:
        listed, pykan, alone = _LAYER_LIST.match(key), _PYKAN_LAYER.match(key), _ONE_LAYER.match(key)
        if pykan:
            found.setdefault((pykan.group(1), True, None), (set(), set()))[0].add(int(pykan.group(2)))
        elif listed:
            indices, anchors = found.setdefault((listed.group(1), False, listed.group(2) or ""), (set(), set()))
            indices.add(int(listed.group(3)))
            anchors.add(listed.group(4))
        elif alone:
            found.setdefault((alone.group(1), False, None), ({0}, set()))[1].add(alone.group(2))
    groups = [KANGroup(prefix, PYKAN if is_pykan else _layer_family(tensors, prefix, container, min(indices), anchors),
                       container, tuple(sorted(indices)))
              for (prefix, is_pykan, container), (indices, anchors) in found.items()]
    return groups + _basis_groups(tensors)


def _basis_groups(tensors: dict[str, torch.Tensor]) -> list[KANGroup]:
    """The FastKAN, ChebyKAN and Gram groups of ``tensors``, one per prefix, container and family (a net mixing
    families gives two groups at one prefix, which ``select_group`` refuses as one KAN)."""
    found: dict[tuple[str, str | None, str], set[int]] = {}
    for key in tensors:
        listed, alone = _BASIS_LIST.match(key), _BASIS_ONE.match(key)
        if listed:
            found.setdefault((listed.group(1), listed.group(2) or "", BASIS_MARKERS[listed.group(4)]),
                             set()).add(int(listed.group(3)))
        elif alone:
            found.setdefault((alone.group(1), None, BASIS_MARKERS[alone.group(2)]), set()).add(0)
    return [KANGroup(prefix, family, container, tuple(sorted(indices)))
            for (prefix, container, family), indices in found.items()]


def _layer_family(tensors: dict[str, torch.Tensor], prefix: str, container: str | None, index: int,
                  anchors: set[str]) -> str:
    """The family whose names (and, for kanx, grid shape) a group's first layer has."""
    if "grid_starts" in anchors:
        return FLASHKAN if "spline_weight" in anchors else INKAN
    if "spline_weights" in anchors:
        return DEEP_KAN
    layer = prefix if container is None else f"{prefix}{container}{index}."
    grid, spline = tensors.get(layer + "grid"), tensors.get(layer + "spline_weight")
    if is_convkan_layer(grid, spline):
        return CONVKAN
    if grid is not None and spline is not None and spline.dim() == 3 and grid.dim() == 2 \
            and grid.shape[-1] <= spline.shape[-1]:
        return KANX  # an efficient-kan grid is extended: coefficients + k + 1 knots
    return EFFICIENT_KAN


def normalized_prefix(prefix: str) -> str:
    """A stated prefix as keys start with it: 'head' and 'head.' are 'head.', '' and '.' the top level."""
    return "" if prefix in ("", ".") else prefix if prefix.endswith(".") else prefix + "."


def select_group(groups: list[KANGroup], tensors: dict[str, torch.Tensor], prefix: str | None,
                 source: str) -> KANGroup:
    """The group ``prefix`` names ('head' and 'head.' both name 'head.'), or the only group when it is None."""
    if prefix is not None:
        wanted = normalized_prefix(prefix)
        matches = [g for g in groups if wanted in (g.prefix, g.prefix + (g.container or ""))]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise SharekanError(f"{source}: prefix {prefix!r} names {len(matches)} KANs laid out differently "
                                f"({_named([g.label() for g in matches])}); the file cannot be read as one KAN")
        refuse_torchkan({key: value for key, value in tensors.items() if key.startswith(wanted)}, source)
        found = f"KANs found: {_named([g.label() for g in groups])}" if groups else _no_kan_hint(tensors)
        raise SharekanError(f"{source}: no KAN at prefix {prefix!r}; {found}")
    if len(groups) == 1:
        return groups[0]
    if not groups:
        refuse_torchkan(tensors, source)  # its norms and PReLUs between layers: compressed in place only
        raise SharekanError(f"{source}: no KAN in this file (no 'layers.N.spline_weight', 'N.spline_weight', "
                            f"'spline_weight', 'spline_weights', 'grid_starts' or pykan 'act_fun.N.coef' tensors, nor "
                            f"FastKAN, ChebyKAN or Gram layers, under any prefix); {_no_kan_hint(tensors)}")
    raise SharekanError(f"{source}: holds {len(groups)} KANs, at {_named([g.label() for g in groups])}; "
                        "pass --prefix (prefix= in the API) naming one")


def group_tensors(tensors: dict[str, torch.Tensor], group: KANGroup) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The group's tensors under the importer's names, and each importer name's key in the file.

    Layered groups (efficient-kan and the other B-spline layouts, FastKAN, ChebyKAN, Gram) become
    ``layers.N.<name>``; pykan groups keep pykan's names without the prefix.
    Tensors under the prefix that fit neither naming are left out; ``unused_tensors`` names them.
    """
    renamed: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in tensors.items():
        if not key.startswith(group.prefix):
            continue
        rest = key[len(group.prefix):]
        name = _importer_name(rest, group)
        if name is not None:
            renamed[name], origin[name] = value, key
    return renamed, origin


def _importer_name(rest: str, group: KANGroup) -> str | None:
    if group.family == PYKAN:
        return rest
    if group.container is None:  # one layer: a B-spline layer's names have no dots, a basis layer's may
        return f"layers.0.{rest}" if "." not in rest or group.family in BASIS_FAMILIES else None
    if not rest.startswith(group.container):
        return None
    indexed = _INDEXED.match(rest[len(group.container):])
    return f"layers.{indexed.group(1)}.{indexed.group(2)}" if indexed else None


def check_all_used(tensors: dict[str, torch.Tensor], group: KANGroup, used: set[str], source: str) -> None:
    """Refuse the file, naming them, if any tensor under the group's prefix is one the importer does not use:
    a norm, an activation's weight or any layout the importer does not know would be silently dropped."""
    unused = [key for key in tensors if key.startswith(group.prefix) and key not in used]
    if unused:
        where = f"under prefix {group.prefix!r} " if group.prefix else ""
        raise SharekanError(f"{source}: {len(unused)} tensor{'s' * (len(unused) != 1)} {where}that the "
                            f"{group.family} importer does not use: {_named(unused)}; the model's forward cannot be "
                            "reproduced without them, so the file is refused")


def outside_prefix(tensors: dict[str, torch.Tensor], group: KANGroup) -> list[str]:
    """Keys of the file outside the group's prefix: the rest of a bigger model, left as it is."""
    return [key for key in tensors if not key.startswith(group.prefix)]


def _no_kan_hint(tensors: dict[str, torch.Tensor]) -> str:
    prefixes = list(dict.fromkeys(key.split(".", 1)[0] + ("." if "." in key else "") for key in tensors))
    return f"prefixes seen: {_named(prefixes)}" if prefixes else "it holds no tensors"


def _named(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")
