"""Magnitude pruning as a compression method: keep the largest edges, store them with an edge bitmap."""
from __future__ import annotations

import numpy as np

from ...errors import SharekanError
from ...model import KAN
from ...progress import Progress
from ..compressed import CompressedKAN, CompressedLayer, uncompressed_fields
from ..method_configs import PruneConfig
from ..pruning import prune_by_magnitude
from ..quantize import quantize
from ..registry import register_handler
from .uniform import layer_weights


@register_handler(PruneConfig)
def compress_pruned(model: KAN, config: PruneConfig, *, calibration: np.ndarray | None = None,
                    progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
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
            kept=kept, **uncompressed_fields(layer)))
    return CompressedKAN([], layers, config, dict(metadata or {}), model.config.base_activation)
