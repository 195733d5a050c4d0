"""Codebook construction (baseline: faiss flat k-means). The fast builder of issue 3 replaces this."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import SharekanError


@dataclass(frozen=True)
class Codebook:
    """Centroids (K_eff, D), per-row assignments (N,), inertia, and the method that ran."""

    centroids: np.ndarray
    assignments: np.ndarray
    inertia: float
    method: str


def build_codebook(shapes: np.ndarray, codebook_size: int, *, seed: int = 0, weights: np.ndarray | None = None,
                   method: str = "auto", spherical: bool = False,
                   progress: Callable[[float, str], None] | None = None) -> Codebook:
    """Cluster ``shapes`` (N, D) into at most ``codebook_size`` centroids."""
    import faiss

    shapes = np.ascontiguousarray(shapes, dtype=np.float32)
    if not np.isfinite(shapes).all():
        raise SharekanError("shapes contain NaN or Inf values")
    unique, inverse = np.unique(shapes, axis=0, return_inverse=True)
    if codebook_size >= len(unique):
        return Codebook(unique, inverse.reshape(-1).astype(np.int64), 0.0, "exact")
    if len(shapes) <= 50_000:
        from sklearn.cluster import KMeans

        km = KMeans(codebook_size, n_init=3, random_state=seed).fit(shapes, sample_weight=weights)
        return Codebook(km.cluster_centers_.astype(np.float32), km.labels_.astype(np.int64), float(km.inertia_), "sklearn")
    km = faiss.Kmeans(shapes.shape[1], codebook_size, niter=20, seed=seed, spherical=spherical)
    km.train(shapes, weights=None if weights is None else np.ascontiguousarray(weights, np.float32))
    distances, labels = km.index.search(shapes, 1)
    return Codebook(km.centroids.copy(), labels[:, 0].astype(np.int64), float(distances.sum()), "flat")
