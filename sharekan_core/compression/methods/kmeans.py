"""MetaCluster-style k-means over raw coefficient vectors: no gain-shape-bias split.

Each edge stores only an index into its layer's codebook of raw (K, D) coefficient vectors, so the
file holds a codebook, indices and base weights, and a codeword decodes to the same coefficients on
every edge (gain 1, bias 0: nothing stored per edge besides the index).
"""
from __future__ import annotations

import numpy as np

from ...errors import SharekanError
from ...model import KAN
from ...progress import Progress, silent
from ..codebook import ShapeCodebook
from ..compressed import CompressedKAN, CompressedLayer, uncompressed_fields
from ..method_configs import KMeansConfig
from ..quantize import quantize
from ..registry import register_handler
from .uniform import layer_weights


@register_handler(KMeansConfig)
def compress_kmeans(model: KAN, config: KMeansConfig, *, calibration: np.ndarray | None = None,
                    progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Cluster each layer's raw coefficient vectors (or all layers' for scope 'global'); store indices."""
    report = progress or silent
    rows = [layer_weights(layer)[0].reshape(-1, layer.num_coefficients) for layer in model.layers]
    if config.scope == "global" and len({r.shape[1] for r in rows}) > 1:
        raise SharekanError("scope 'global' needs one coefficient count in all layers")
    groups = [[i] for i in range(len(rows))] if config.scope == "layer" else [list(range(len(rows)))]
    codebooks, indices = [], {}
    for group_id, members in enumerate(groups):
        report(group_id / len(groups), f"k-means for codebook {group_id}")
        codebook = ShapeCodebook(config.codebook_size, seed=config.seed, method=config.kmeans_method)
        assigned = codebook.fit(np.concatenate([rows[i] for i in members])).assignments
        codebooks.append(quantize(codebook.centroids, config.bits, f"codebook {group_id}", grouping="columns"))
        for member, part in zip(members, np.split(assigned, np.cumsum([len(rows[i]) for i in members])[:-1])):
            indices[member] = part
    layers = []
    for index, layer in enumerate(model.layers):
        layers.append(CompressedLayer(
            codebook_id=index if config.scope == "layer" else 0,
            indices=indices[index].reshape(layer.out_features, layer.in_features),
            gains=None, biases=None,
            base_weights=quantize(layer_weights(layer)[1], config.bits, f"layer {index} base weights"),
            **uncompressed_fields(layer)))
    report(1.0, "done")
    return CompressedKAN(codebooks, layers, config, dict(metadata or {}), model.config.base_activation)
