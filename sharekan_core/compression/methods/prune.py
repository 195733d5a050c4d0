"""Magnitude pruning as a compression method: keep the largest edges, store them with an edge bitmap."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...errors import SharekanError
from ...model import KAN
from ..compressed import CompressedKAN, CompressedLayer, layer_frame
from ..config import SUPPORTED_BITS, check_choice
from ..pruning import prune_by_magnitude
from ..quantize import quantize
from .uniform import layer_weights


@dataclass(frozen=True)
class PruneConfig:
    """Drop the ``sparsity`` fraction of edges with the smallest spline norm, per layer.

    Kept coefficients and base weights are stored at ``bits`` (32 keeps float32), with a 1-bit kept-edge mask.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.PruneConfig(sparsity=0.75))
        >>> compressed.method
        'prune'
    """

    method: ClassVar[str] = "prune"

    sparsity: float = 0.5
    bits: int = 32

    def __post_init__(self) -> None:
        if isinstance(self.sparsity, bool) or not isinstance(self.sparsity, (int, float)) or not 0 <= self.sparsity < 1:
            raise SharekanError(f"sparsity must be a number in [0, 1), got {self.sparsity!r}")
        check_choice("bits", self.bits, SUPPORTED_BITS)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike): kept coefficients and base weights."""
        return {"coefficients": self.bits, "base_weights": self.bits}


def compress_pruned(model: KAN, config: PruneConfig, metadata: dict | None = None) -> CompressedKAN:
    """Keep the largest edges of every layer; store their coefficients and base weights and the mask."""
    pruned = prune_by_magnitude(model, float(config.sparsity))
    layers = []
    for index, (layer, kept) in enumerate(zip(model.layers, pruned.kept)):
        coefficients, base = layer_weights(layer)
        kept = np.asarray(kept, dtype=bool)
        rows = coefficients.reshape(layer.out_features, layer.in_features, -1)[kept]
        layers.append(CompressedLayer(
            codebook_id=None, indices=None, gains=None, biases=None,
            base_weights=quantize(base[kept], config.bits, f"layer {index} base weights"),
            coefficients=quantize(rows, config.bits, f"layer {index} coefficients"),
            kept=kept, **layer_frame(layer)))
    return CompressedKAN([], layers, config, dict(metadata or {}))
