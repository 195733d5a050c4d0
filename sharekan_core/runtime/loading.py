"""Load whatever a user points at (dense model or compressed file) as a runnable module."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..compress.compressed import decompress
from ..format.compressed_file import is_compressed_file, load_compressed
from ..io import read_model
from .compressed_kan import CompressedDomainKAN


@dataclass
class Runnable:
    """A module mapping (batch, in_features) -> (batch, out_features), with its file's metadata."""

    module: torch.nn.Module
    in_features: int
    out_features: int
    metadata: dict = field(default_factory=dict)
    kind: str = "dense"


def load_runnable(path: str | Path) -> Runnable:
    """Return a dense model, or a compressed file: SHARe-KAN files run in the compressed domain (never
    decompressed); the other methods have no compressed-domain kernel and run their decoded dense model."""
    if is_compressed_file(path):
        compressed = load_compressed(path)
        module = CompressedDomainKAN(compressed) if compressed.method == "sharekan" else decompress(compressed)
        return Runnable(module.eval(), compressed.layers[0].in_features, compressed.layers[-1].out_features,
                        compressed.metadata, "compressed")
    loaded = read_model(path)
    model = loaded.model.eval()
    return Runnable(model, model.layers[0].in_features, model.layers[-1].out_features, loaded.metadata, "dense")
