"""Reading one layer of a global-basis KAN family (FastKAN, ChebyKAN) from its tensors under the family's names."""
from __future__ import annotations

import torch

from ..errors import SharekanError
from .layer_tensors import LayerReader


def layer_reader(tensors: dict[str, torch.Tensor], prefix: str, source: str, known: tuple[str, ...]) -> LayerReader:
    """A reader of one layer's tensors (names without ``prefix``), refusing any name outside ``known`` by its key."""
    unknown = [prefix + name for name in tensors if name not in known]
    if unknown:
        raise SharekanError(f"{source}: {', '.join(unknown[:6])} {'is' if len(unknown) == 1 else 'are'} not part of "
                            "the layer this importer reads; the layer's forward cannot be reproduced, so it is refused")
    return LayerReader(tensors, 0, {f"layers.0.{name}": prefix + name for name in known}, source)


def check_shape(value: torch.Tensor, shape: tuple[int, ...], key: str, source: str) -> torch.Tensor:
    """``value`` if its shape is ``shape``, else a SharekanError naming ``key``."""
    if tuple(value.shape) != shape:
        raise SharekanError(f"{source}: {key} has shape {tuple(value.shape)}, expected {shape}")
    return value
