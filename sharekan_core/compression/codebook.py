"""Shared shape codebook: k-means over spline shapes, built coarse-to-fine for paper-scale K.

Shapes (N rows, D = G + k coefficients per shape):
    shapes       (N, D)      float32, one unit-norm, zero-mean shape per edge
    weights      (N,)        optional importance per row (the compressor passes gain**2)
    centroids    (K_eff, D)  float32, most used first
    assignments  (N,)        int64, row -> centroid index

method="two-level" (what "auto" runs unless N*K is small): a coarse k-means of sqrt(K)
cells, a fine faiss k-means inside each cell with the K centroids split across cells by
their distortion, then Lloyd passes whose assignment step searches, like an IVF index,
only the centroids of each row's PROBES nearest cells. A pass costs about
N*D*PROBES*sqrt(K) instead of flat Lloyd's N*D*K.
"""
from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import faiss
import numpy as np

from ..errors import SharekanError
from ..progress import Progress, silent
from .config import KMEANS_METHODS as METHODS
from ..ranges import MAX_CODEBOOK, MAX_SEED, MIN_CODEBOOK, check_int

SMALL_PROBLEM = 2**22         # N*K at or below which "auto" runs "exact": well under a second
FLAT_ITERATIONS = 20          # method="flat": plain faiss Lloyd, the reference the default is compared with; random seeding

# Tuned with bench/codebook.py on 1M x 13 (results: docs/benchmarks.md, "Codebook builder").
COARSE_TRAIN_POINTS = 256     # coarse k-means sample per coarse cell
COARSE_ITERATIONS = 20
FINE_TRAIN_POINTS = 64        # fine k-means sample per fine centroid
FINE_ITERATIONS = 6
PROBES = 3                    # nearest coarse cells searched for each row's centroid
REFINE_PASSES = 3             # probe-restricted Lloyd passes after the fine k-means
SMALL_SEARCH_BLAS_THRESHOLD = 20  # faiss's own default before 1.15

_BLAS_SETTING_LOCK = threading.Lock()



@dataclass(frozen=True)
class Clustering:
    """Result of clustering shapes: centroids ordered by usage and each row's centroid."""

    centroids: np.ndarray    # (K_eff, D) float32, most used first
    assignments: np.ndarray  # (N,) int64, index into centroids
    inertia: float           # sum over rows of weight * squared distance to its centroid
    method: str              # which algorithm ran: "two-level", "exact", "flat" or "distinct"


def build_codebook(shapes: np.ndarray, codebook_size: int, *, seed: int = 0,
                   weights: np.ndarray | None = None, method: str = "auto",
                   spherical: bool = False, progress: Progress | None = None) -> Clustering:
    """Return a Clustering of at most ``codebook_size`` centroids for the rows of ``shapes``.

    ``method``: "auto" ("exact" when N*K <= SMALL_PROBLEM, else "two-level"), "two-level",
    "flat" (faiss flat Lloyd, 20 iterations) or "exact" (scikit-learn KMeans). Deterministic
    for a given seed. With ``spherical`` the centroids are unit-norm ("exact" normalises its means).
    """
    shapes, weights = _validate(shapes, codebook_size, seed, weights, method)
    report = progress or silent
    report(0.0, "checking distinct shapes")
    distinct = _distinct_rows_if_at_most(shapes, codebook_size)
    if distinct is not None:
        rows, assignments = distinct
        if spherical:
            rows = _normalised(rows.astype(np.float64)).astype(np.float32)
        return _finish(shapes, weights, rows, assignments, "distinct", report)
    columns = _weighted_columns(shapes, weights)
    if method == "auto":
        method = "exact" if shapes.shape[0] * codebook_size <= SMALL_PROBLEM else "two-level"
    with _blas_for_small_searches(), _single_threaded_pool() as pool:
        if method == "two-level":
            assignments = _two_level(pool, shapes, weights, columns, codebook_size, seed, spherical, report)
        elif method == "flat":
            report(0.05, f"flat k-means, {FLAT_ITERATIONS} iterations")
            assignments = _flat_lloyd(shapes, weights, codebook_size, seed, spherical)
        else:
            report(0.05, "exact k-means (scikit-learn)")
            assignments = _sklearn_lloyd(shapes, weights, codebook_size, seed)
    report(0.95, "final centroids")
    # Exact float64 means of the final assignment: nothing of faiss's float32, thread-order
    # dependent accumulation in its last Lloyd step reaches the result.
    centroids = _weighted_means(columns, assignments, np.zeros((codebook_size, shapes.shape[1]), np.float32),
                                spherical)
    return _finish(shapes, weights, centroids, assignments, method, report)



def _validate(shapes: np.ndarray, codebook_size: int, seed: int, weights: np.ndarray | None,
              method: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (shapes as contiguous float32, weights as float64 or None), or raise SharekanError."""
    if method not in METHODS:
        raise SharekanError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    check_int("codebook_size", codebook_size, MIN_CODEBOOK, MAX_CODEBOOK)
    check_int("seed", seed, 0, MAX_SEED)
    shapes = np.asarray(shapes)
    if shapes.ndim != 2 or shapes.shape[0] == 0 or shapes.shape[1] == 0:
        raise SharekanError(f"shapes must be a non-empty (N, D) array, got shape {shapes.shape}")
    if not np.issubdtype(shapes.dtype, np.number):
        raise SharekanError(f"shapes must be numeric, got dtype {shapes.dtype}")
    # + 0.0 turns -0.0 into 0.0 so equal rows also have equal bytes.
    shapes = np.ascontiguousarray(shapes, dtype=np.float32) + np.float32(0.0)
    if not np.isfinite(shapes).all():
        raise SharekanError("shapes must be finite, found NaN or Inf")
    if weights is None:
        return shapes, None
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (shapes.shape[0],):
        raise SharekanError(f"weights must have shape ({shapes.shape[0]},) to match shapes, got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise SharekanError("weights must be finite and >= 0")
    if weights.sum() == 0:
        return shapes, None  # nothing to weigh: every row counts the same
    return shapes, weights


def _distinct_rows_if_at_most(shapes: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (distinct rows, row -> distinct index) when there are at most ``limit``, else None."""
    if shapes.shape[0] > limit:
        # A 64-bit hash can merge distinct rows but never split equal ones, so more than
        # `limit` distinct hashes proves more than `limit` distinct rows without a 2-D sort.
        bits = shapes.view(np.uint32).astype(np.uint64)
        multipliers = np.random.default_rng(0x5EED).integers(1, 2**63, size=shapes.shape[1], dtype=np.uint64) | np.uint64(1)
        hashes = (bits * multipliers).sum(axis=1, dtype=np.uint64)
        hashes.sort()  # np.unique on uint64 hashes measured 100x slower than sort + diff
        if np.count_nonzero(hashes[1:] != hashes[:-1]) + 1 > limit:
            return None
    rows, inverse = np.unique(shapes, axis=0, return_inverse=True)
    if rows.shape[0] > limit:
        return None
    return rows, inverse.reshape(-1).astype(np.int64)


def _kmeans(points: np.ndarray, weights: np.ndarray | None, k: int, seed: int, spherical: bool,
            iterations: int, points_per_centroid: int) -> np.ndarray:
    """Return (k, D) float32 centroids of a seeded faiss k-means on ``points``."""
    kmeans = faiss.Kmeans(points.shape[1], k, niter=iterations, seed=seed, spherical=spherical,
                          max_points_per_centroid=points_per_centroid, min_points_per_centroid=1)
    kmeans.train(points, weights=None if weights is None else weights.astype(np.float32))
    return kmeans.centroids


def _nearest(points: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (squared distance, index) of each point's nearest centroid, by faiss BLAS search."""
    distances, indices = faiss.knn(points, centroids, 1)
    return distances[:, 0], indices[:, 0]


def _flat_lloyd(shapes: np.ndarray, weights: np.ndarray | None, k: int, seed: int, spherical: bool) -> np.ndarray:
    """Return assignments from faiss flat Lloyd on all rows, randomly seeded (the reference the default is benchmarked against)."""
    centroids = _kmeans(shapes, weights, k, seed, spherical, FLAT_ITERATIONS, -(-shapes.shape[0] // k))
    return _nearest(shapes, centroids)[1]


def _sklearn_lloyd(shapes: np.ndarray, weights: np.ndarray | None, k: int, seed: int) -> np.ndarray:
    """Return assignments from scikit-learn KMeans: greedy k-means++ seeding, Lloyd to convergence.

    Its greedy seeding escapes the local minima that randomly seeded Lloyd (faiss) falls into
    when shapes form fewer tight clusters than K. One thread, so sums never depend on the cores.
    """
    from sklearn.cluster import KMeans  # slow for large problems; keep the import off that path
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer clusters than K: dropped in _finish
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(shapes, sample_weight=weights)
    return model.labels_.astype(np.int64)


def _two_level(pool: ThreadPoolExecutor, shapes: np.ndarray, weights: np.ndarray | None, columns: np.ndarray,
               k: int, seed: int, spherical: bool, report: Progress) -> np.ndarray:
    """Return assignments from coarse cells, per-cell fine k-means and probe-restricted Lloyd passes.

    faiss.contrib.clustering.two_level_clustering does the coarse/fine split too, but takes
    no weights, splits K by row count only (it can give a cell more centroids than rows),
    reports no progress and never lets a row move to a centroid of another cell, which on
    real spline shapes (near-uniform on the sphere) left the MSE 20% above flat Lloyd.
    """
    n, dim = shapes.shape
    cells = int(min(max(2, round(np.sqrt(k))), k // 2))
    probes = min(PROBES, cells)
    report(0.02, f"coarse k-means, {cells} cells")
    coarse = pool.submit(_kmeans, shapes, weights, cells, seed, spherical,
                         COARSE_ITERATIONS, COARSE_TRAIN_POINTS).result()
    chunks = np.array_split(np.arange(n), 4 * _workers())
    found = list(pool.map(lambda rows: faiss.knn(shapes[rows], coarse, probes), chunks))
    coarse_sq = np.concatenate([sq[:, 0] for sq, _ in found])
    probed = np.concatenate([cells_found for _, cells_found in found])  # (N, probes), nearest first
    cell_of_row = probed[:, 0].astype(np.uint16)  # uint16: numpy radix-sorts it
    rows_per_cell = np.bincount(cell_of_row, minlength=cells)
    distortion = np.bincount(cell_of_row, weights=coarse_sq if weights is None else coarse_sq * weights,
                             minlength=cells)
    fine_per_cell = _split_codebook(k, distortion, rows_per_cell, dim)
    order = np.argsort(cell_of_row, kind="stable")
    starts = np.concatenate([[0], np.cumsum(rows_per_cell)])

    def fine_kmeans(cell: int) -> np.ndarray:
        members, count = order[starts[cell]:starts[cell + 1]], int(fine_per_cell[cell])
        if count >= members.size:
            return np.unique(shapes[members], axis=0)
        cell_weights = None if weights is None or weights[members].sum() == 0 else weights[members]
        return _kmeans(shapes[members], cell_weights, count, seed + 1 + cell, spherical,
                       FINE_ITERATIONS, FINE_TRAIN_POINTS)

    centroids = []
    for cell, cell_centroids in enumerate(pool.map(fine_kmeans, range(cells))):
        report(0.05 + 0.55 * cell / cells, f"fine k-means in cell {cell + 1}/{cells}")
        centroids.append(cell_centroids)
    centroids = np.concatenate(centroids)
    layout = _ProbeLayout(shapes, probed, cells)
    for step in range(REFINE_PASSES):
        report(0.6 + 0.35 * step / REFINE_PASSES, f"refinement pass {step + 1}/{REFINE_PASSES}")
        if step:
            centroids = _weighted_means(columns, assignments, centroids, spherical)
        filed_under = pool.submit(_nearest, centroids, coarse).result()[1]
        assignments = layout.assign(pool, centroids, filed_under)
    return assignments


class _ProbeLayout:
    """Each row copied once per probed coarse cell, grouped by cell, for repeated restricted searches.

    This is faiss IndexIVFFlat's search with nprobe = PROBES, reorganised so that each cell's
    search is one dense BLAS product of the rows probing it against the centroids filed under
    it: IndexIVFFlat scans its lists one vector at a time, which measured 3-5x slower at D = 13.
    Centroids are filed under their nearest coarse centroid, as IndexIVFFlat.add does.
    """

    def __init__(self, shapes: np.ndarray, probed: np.ndarray, cells: int):
        self.rows, self.probes = probed.shape
        cell_of_slot = probed.reshape(-1).astype(np.uint16)
        self.slots = np.argsort(cell_of_slot, kind="stable")
        self.starts = np.searchsorted(cell_of_slot[self.slots], np.arange(cells + 1))
        self.copies = np.take(shapes, self.slots // self.probes, axis=0)

    def assign(self, pool: ThreadPoolExecutor, centroids: np.ndarray, centroid_cell: np.ndarray) -> np.ndarray:
        """Return each row's nearest centroid among those filed under its probed cells."""
        order = np.argsort(centroid_cell, kind="stable")
        bounds = np.searchsorted(centroid_cell[order], np.arange(self.starts.size))
        best_sq = np.full(self.slots.size, np.inf, dtype=np.float32)
        best = np.zeros(self.slots.size, dtype=np.int64)

        def search(cell: int) -> None:
            lo, hi = self.starts[cell], self.starts[cell + 1]
            candidates = order[bounds[cell]:bounds[cell + 1]]
            if hi > lo and candidates.size:
                found_sq, found = _nearest(self.copies[lo:hi], centroids[candidates])
                best_sq[lo:hi] = found_sq
                best[lo:hi] = candidates[found]

        list(pool.map(search, range(self.starts.size - 1)))
        by_row_sq = np.empty_like(best_sq)
        by_row = np.empty_like(best)
        by_row_sq[self.slots] = best_sq
        by_row[self.slots] = best
        pick = np.argmin(by_row_sq.reshape(self.rows, self.probes), axis=1)
        return by_row.reshape(self.rows, self.probes)[np.arange(self.rows), pick]


def _workers() -> int:
    """Number of CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _single_threaded_pool() -> ThreadPoolExecutor:
    """Return a thread pool whose threads run faiss with one OpenMP thread each.

    Many small faiss calls with OpenMP inside measured 10-20x slower than single-threaded
    ones on a busy 2-core machine (threads wait at barriers for descheduled peers), so the
    parallelism is across cells instead. omp_set_num_threads is per calling thread, so the
    caller's own faiss setting is untouched, and each task's result does not depend on how
    many workers run.
    """
    return ThreadPoolExecutor(_workers(), initializer=faiss.omp_set_num_threads, initargs=(1,))


@contextmanager
def _blas_for_small_searches() -> Iterator[None]:
    """Within the block, faiss uses BLAS for searches of any size.

    faiss 1.15 only switches to BLAS above distance_compute_blas_threshold (128,000); below it
    its scalar loop measured 10x slower per distance at D = 13, and every per-cell search here
    is below it. The setting is process-wide, so it is restored on exit and a lock keeps two
    builders from interleaving; it changes only speed and float rounding of other faiss calls.
    """
    with _BLAS_SETTING_LOCK:
        saved = faiss.cvar.distance_compute_blas_threshold
        faiss.cvar.distance_compute_blas_threshold = SMALL_SEARCH_BLAS_THRESHOLD
        try:
            yield
        finally:
            faiss.cvar.distance_compute_blas_threshold = saved


def _split_codebook(total: int, distortion: np.ndarray, capacity: np.ndarray, dim: int) -> np.ndarray:
    """Return how many of ``total`` centroids each coarse cell gets (>= 1 per non-empty cell).

    High-rate quantisation theory: a cell of total distortion E coded with c centroids keeps
    about E*c**(-2/d); the sum over cells is least with c proportional to E**(d/(d+2)).
    """
    capacity = capacity.astype(np.int64)
    score = np.maximum(distortion, 1e-30) ** (dim / (dim + 2.0)) * (capacity > 0)
    counts = np.zeros_like(capacity)
    free = capacity > 0
    remaining = total
    while True:  # water-filling: cells whose share exceeds their row count get all their rows
        share = remaining * score * free / (score * free).sum()
        full = free & (share >= capacity)
        if not full.any():
            break
        counts[full] = capacity[full]
        remaining -= int(capacity[full].sum())
        free &= ~full
    counts[free] = np.maximum(1, np.floor(share[free]))
    surplus = int(counts.sum()) - total
    leftover = share - counts
    if surplus < 0:
        open_cells = np.flatnonzero(free & (counts < capacity))
        best = open_cells[np.argsort(-leftover[open_cells], kind="stable")][:-surplus]
        counts[best] += 1
    while surplus > 0:  # only when the minimum of one centroid per cell overshoots
        richest = np.argsort(-np.where(counts > 1, counts, 0), kind="stable")[:surplus]
        richest = richest[counts[richest] > 1]
        counts[richest] -= 1
        surplus = int(counts.sum()) - total
    return counts


def _weighted_columns(shapes: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Return (D + 1, N) float64: the weighted shape columns, then the weights themselves."""
    row_weights = np.ones(shapes.shape[0]) if weights is None else weights
    columns = np.empty((shapes.shape[1] + 1, shapes.shape[0]))
    np.multiply(shapes.T, row_weights, out=columns[:-1])
    columns[-1] = row_weights
    return columns


def _weighted_means(columns: np.ndarray, assignments: np.ndarray, previous: np.ndarray,
                    spherical: bool) -> np.ndarray:
    """Return float32 centroids as the weighted mean of their rows, summed in float64.

    ``columns`` comes from _weighted_columns. A centroid with no rows, or only zero-weight
    rows, keeps its previous value.
    """
    k = previous.shape[0]
    sums = np.stack([np.bincount(assignments, weights=column, minlength=k) for column in columns], axis=1)
    means = previous.astype(np.float64)
    used = sums[:, -1] > 0
    means[used] = sums[used, :-1] / sums[used, -1:]
    return (_normalised(means) if spherical else means).astype(np.float32)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """Return rows scaled to unit norm; zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


def _finish(shapes: np.ndarray, weights: np.ndarray | None, centroids: np.ndarray,
            assignments: np.ndarray, method: str, report: Progress) -> Clustering:
    """Return the Clustering with unused centroids dropped and the most used first."""
    usage = np.bincount(assignments, minlength=centroids.shape[0])
    order = np.argsort(-usage, kind="stable")
    order = order[usage[order] > 0]
    rank = np.empty(centroids.shape[0], dtype=np.int64)
    rank[order] = np.arange(order.size)
    centroids = np.ascontiguousarray(centroids[order], dtype=np.float32)
    assignments = rank[assignments]
    residual = shapes - centroids[assignments]
    errors = np.einsum("nd,nd->n", residual, residual).astype(np.float64)
    # np.sum, not a BLAS dot: its multi-threaded partial sums would make the last bits vary.
    inertia = float(errors.sum() if weights is None else np.sum(errors * weights))
    report(1.0, f"{centroids.shape[0]} centroids")
    return Clustering(centroids, assignments, inertia, method)


class ShapeCodebook:
    """A codebook with faiss's verbs: ``fit`` it on rows, then ``assign`` rows to their nearest codeword.

    Example::

        >>> codebook = ShapeCodebook(256, seed=0).fit(shapes, weights=gains**2)
        >>> indices = codebook.assign(other_shapes)   # zero-shot: nearest codeword, no clustering
    """

    def __init__(self, size: int, *, seed: int = 0, method: str = "auto", spherical: bool = False):
        self.size, self.seed, self.method, self.spherical = size, seed, method, spherical
        self.centroids: np.ndarray | None = None     # (K_eff, D) float32 once fitted
        self.assignments: np.ndarray | None = None   # (N,) int64, the fitted rows' codewords
        self.inertia: float | None = None

    @classmethod
    def from_centroids(cls, centroids: np.ndarray) -> ShapeCodebook:
        """A fitted codebook holding the given (K, D) codewords, for assignment only."""
        centroids = np.asarray(centroids)
        if centroids.ndim != 2 or not 1 <= centroids.shape[0] <= MAX_CODEBOOK or centroids.shape[1] == 0:
            raise SharekanError(f"a codebook must have shape (K, D) with 1 <= K <= {MAX_CODEBOOK:,}, "
                                f"got {tuple(centroids.shape)}")
        if not np.isfinite(centroids).all():
            raise SharekanError("codebook contains NaN or Inf values")
        codebook = cls(max(MIN_CODEBOOK, centroids.shape[0]))
        codebook.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        return codebook

    def fit(self, rows: np.ndarray, weights: np.ndarray | None = None,
            progress: Progress | None = None) -> ShapeCodebook:
        """Cluster ``rows`` (N, D) into at most ``size`` codewords (``build_codebook``); return self."""
        result = build_codebook(rows, self.size, seed=self.seed, weights=weights, method=self.method,
                                spherical=self.spherical, progress=progress)
        self.centroids, self.assignments, self.inertia = result.centroids, result.assignments, result.inertia
        return self

    def assign(self, rows: np.ndarray) -> np.ndarray:
        """Index (N,) int64 of each row's nearest codeword in squared Euclidean distance (exact faiss search)."""
        if self.centroids is None:
            raise SharekanError("the codebook is not fitted: call fit() first")
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.centroids.shape[1]:
            raise SharekanError(f"rows must have shape (N, {self.centroids.shape[1]}), got {tuple(rows.shape)}")
        if rows.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        return _nearest(rows, self.centroids)[1].astype(np.int64)


def __getattr__(name: str) -> type:
    """``Codebook``: the old name of ``Clustering`` (a clustering's result, not a codebook), deprecated for one release."""
    if name == "Codebook":
        warnings.warn("sharekan_core.compression.codebook.Codebook is deprecated; it is named Clustering "
                      "(ShapeCodebook is the codebook)", DeprecationWarning, stacklevel=2)
        return Clustering
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
