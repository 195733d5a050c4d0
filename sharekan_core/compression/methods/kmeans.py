"""MetaCluster-style k-means over raw coefficient vectors: no gain-shape-bias split.

Each edge stores only an index into its layer's codebook of raw (K, D) coefficient vectors, so the
file holds a codebook, indices and base weights, and a codeword decodes to the same coefficients on
every edge (gain 1, bias 0: nothing stored per edge besides the index).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...errors import SharekanError
from ...model import KAN
from ...progress import Progress, silent
from ..codebook import ShapeCodebook
from ..compressed import CompressedKAN, CompressedLayer, layer_frame
from ..config import KMEANS_METHODS, MAX_CODEBOOK, MIN_CODEBOOK, SCOPES, SUPPORTED_BITS, check_choice, check_int
from ..quantize import quantize
from .uniform import layer_weights



@dataclass(frozen=True)
class KMeansConfig:
    """k-means of raw coefficient vectors into ``codebook_size`` codewords per layer (or one for all layers).

    ``bits`` (32, 16, 8 or 4) quantizes the codebook (one affine pair per coefficient column) and the
    base weights (one pair per output row).

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.KMeansConfig(codebook_size=256, bits=8))
        >>> compressed.method
        'kmeans'
    """

    method: ClassVar[str] = "kmeans"

    codebook_size: int = 4096
    bits: int = 8
    scope: str = "layer"
    seed: int = 0
    kmeans_method: str = "auto"

    def __post_init__(self) -> None:
        check_int("codebook_size", self.codebook_size, MIN_CODEBOOK, MAX_CODEBOOK)
        check_choice("bits", self.bits, SUPPORTED_BITS)
        check_choice("scope", self.scope, SCOPES)
        check_int("seed", self.seed, 0, 2**31 - 1)
        check_choice("kmeans_method", self.kmeans_method, KMEANS_METHODS)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike): the codebook and the base weights."""
        return {"codebook": self.bits, "base_weights": self.bits}


def compress_kmeans(model: KAN, config: KMeansConfig, progress: Progress | None = None,
                    metadata: dict | None = None) -> CompressedKAN:
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
            **layer_frame(layer)))
    report(1.0, "done")
    return CompressedKAN(codebooks, layers, config, dict(metadata or {}))
