"""What a compressed part replaced: recorded when ``compress_`` (or ``load_compressed_into``) swaps it in, so
``decompressed_state_dict`` writes the decoded part back in its own library's layout and never guesses it."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class SwappedFrom:
    """The replaced module's family (``io``'s family name, e.g. 'efficient-kan', 'FastKAN', 'torchkan') and its
    state dict's keys with their shapes, in order."""

    family: str
    layout: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def keys(self) -> list[str]:
        """The replaced module's state-dict keys, in order."""
        return [key for key, _ in self.layout]


def swapped_from(original: nn.Module, family: str) -> SwappedFrom:
    """The record of ``original`` (the module being replaced), of ``family``."""
    return SwappedFrom(family, tuple((key, tuple(value.shape)) for key, value in original.state_dict().items()))
