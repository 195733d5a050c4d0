"""What a family importer hands on: a KAN's tensors in efficient-kan's layout (``layers.N.<name>``).

Each family's module turns its own tensor names into ``ImportedLayers``: the efficient-kan tensors
``kan_from_state`` reads, which of the family's tensors it read (any other under the prefix is refused),
and each new tensor's key in the file, for errors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import SharekanError

_LAYER_KEY = re.compile(r"^layers\.(\d+)\.(\w+)$")


@dataclass
class ImportedLayers:
    """``tensors`` in efficient-kan's names, the importer names ``used`` from the file, ``names``: each
    efficient-kan name's key in the file, and whether the file records the knots (``grid``)."""

    tensors: dict[str, torch.Tensor]
    used: set[str]
    names: dict[str, str] = field(default_factory=dict)
    knots_recorded: bool = True  # False: the family does not save its knots (deep-kan); the user states the grid


def by_layer(tensors: dict[str, torch.Tensor]) -> dict[int, dict[str, torch.Tensor]]:
    """``layers.N.<name>`` tensors grouped by N (other keys are left out: the caller refuses them as unused)."""
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        match = _LAYER_KEY.match(key)
        if match:
            layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return dict(sorted(layers.items()))


@dataclass
class LayerReader:
    """One layer's tensors under the family's names, read checked and named as the file names them."""

    layer: dict[str, torch.Tensor]
    index: int
    names: dict[str, str]
    source: str

    def key(self, name: str) -> str:
        """The file's key of this layer's tensor ``name``."""
        ours = f"layers.{self.index}.{name}"
        return self.names.get(ours, ours)

    def read(self, name: str, dims: int, shape_text: str) -> torch.Tensor:
        """Tensor ``name`` as finite float32 with ``dims`` dimensions, or a SharekanError naming its key in the file
        (``shape_text`` says the expected layout, e.g. '(in, out, G+k)')."""
        if name not in self.layer:
            raise SharekanError(f"{self.source}: layer {self.index} lacks {self.key(name)}")
        value = self.layer[name]
        if value.is_complex() or value.dtype == torch.bool:
            raise SharekanError(f"{self.source}: {self.key(name)} has dtype {value.dtype}, expected real numbers")
        if value.dim() != dims:
            raise SharekanError(f"{self.source}: {self.key(name)} must be {dims}-D {shape_text}, "
                                f"got shape {tuple(value.shape)}")
        value = value.to(torch.float32)
        if not bool(torch.isfinite(value).all()):
            raise SharekanError(f"{self.source}: {self.key(name)} contains NaN or Inf values")
        return value


# A family's layer converter: efficient-kan name -> (tensor, the family name it came from, for errors).
LayerConverter = Callable[[LayerReader], dict[str, tuple[torch.Tensor, str]]]


def import_layers(tensors: dict[str, torch.Tensor], names: dict[str, str], source: str, reads: tuple[str, ...],
                  convert: LayerConverter) -> ImportedLayers:
    """Run ``convert`` on every layer of ``tensors`` (family names ``layers.N.<name>``); ``reads`` are the family
    names it uses, so that any other tensor under the prefix is refused."""
    layers = by_layer(tensors)
    converted: dict[str, torch.Tensor] = {}
    renamed: dict[str, str] = {}
    for index, layer in layers.items():
        reader = LayerReader(layer, index, names, source)
        for name, (value, origin) in convert(reader).items():
            converted[f"layers.{index}.{name}"] = value
            renamed[f"layers.{index}.{name}"] = reader.key(origin)
    used = {f"layers.{index}.{name}" for index in layers for name in reads}
    return ImportedLayers(converted, used & set(tensors), {**names, **renamed})
