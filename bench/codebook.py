"""Codebook builders side by side on ~1M spline shapes (D = 13): the default builder against
faiss flat k-means (20 iterations) and scikit-learn MiniBatchKMeans, in one process.

Data: the live spline shapes of every KAN under sample_models/, resampled with small noise to
--n rows (or a clustered synthetic set when there is none). MSE is the mean over rows of the
squared L2 distance from a shape to its centroid; "refit MSE" is the same after each edge's
gain is refitted to its centroid (what the compressor does), i.e. mean(1 - cos^2).
Times are medians of --repeats runs (baselines: --baseline-repeats). Benchmarks are not tests.
Usage: python bench/codebook.py [--k 4096 65536] [--n 1000000] [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from sharekan_core.compression import decompose, effective_coefficients
from sharekan_core.compression.codebook import build_codebook
from sharekan_core.detection.weights import HEAD_FILE
from sharekan_core.errors import SharekanError
from sharekan_core.io.model_file import load_model
from sharekan_core.paths import settings

DETECTOR_DIR = settings().detector_dir  # the shipped detector (SHAREKAN_MODELS_DIR moves it)

RESAMPLE_NOISE = 0.03   # per-coefficient noise added to resampled real shapes, before renormalising
MINIBATCH_MAX_K = 16384  # above this MiniBatchKMeans' sequential k-means++ seeding takes many minutes
TARGETS = {4096: (6.0, 1.05), 65536: (20.0, 1.10)}  # K: (speed-up over faiss flat, MSE ratio limit)


def model_shapes(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Return (live shapes (E, D) float32, their gains) of the KANs in ``paths``."""
    shapes, gains = [], []
    for path in paths:
        for coefficients in effective_coefficients(load_model(path)):
            parts = decompose(coefficients.reshape(-1, coefficients.shape[-1]))
            live = parts.gains > 0
            shapes.append(parts.shapes[live])
            gains.append(parts.gains[live])
    return np.concatenate(shapes), np.concatenate(gains)


def kan_files() -> list[Path]:
    """Every safetensors file under sample_models/ that loads as a KAN."""
    found = []
    for path in sorted((ROOT / "sample_models").rglob("*.safetensors")):
        try:
            load_model(path)
        except SharekanError:
            continue
        found.append(path)
    return found


def unit_shapes(vectors: np.ndarray) -> np.ndarray:
    """Project rows to zero mean and unit norm, as decompose() does, in float32."""
    centred = vectors - vectors.mean(axis=1, keepdims=True)
    return (centred / np.linalg.norm(centred, axis=1, keepdims=True)).astype(np.float32)


def resampled(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Draw ``n`` rows of ``base`` with replacement, add noise and re-project onto shapes."""
    rng = np.random.default_rng(seed)
    picked = base[rng.integers(0, base.shape[0], n)].astype(np.float64)
    return unit_shapes(picked + rng.normal(0.0, RESAMPLE_NOISE, picked.shape))


def synthetic_shapes(n: int, dim: int = 13, prototypes: int = 512, seed: int = 0) -> np.ndarray:
    """Smooth random curves around Zipf-popular smooth prototypes: a clustered continuum."""
    rng = np.random.default_rng(seed)
    knots = np.linspace(0.0, 1.0, dim)

    def smooth(count: int, length: float) -> np.ndarray:
        covariance = np.exp(-0.5 * ((knots[:, None] - knots[None, :]) / length) ** 2) + 1e-6 * np.eye(dim)
        return rng.standard_normal((count, dim)) @ np.linalg.cholesky(covariance).T

    centres = smooth(prototypes, 0.3)
    popularity = 1.0 / np.arange(1, prototypes + 1) ** 0.8
    picked = rng.choice(prototypes, size=n, p=popularity / popularity.sum())
    return unit_shapes(centres[picked] + 0.35 * smooth(n, 0.2) + 0.03 * rng.standard_normal((n, dim)))


def errors(shapes: np.ndarray, centroids: np.ndarray, assignments: np.ndarray) -> tuple[float, float]:
    """Return (MSE, refit MSE) of ``shapes`` coded by ``centroids[assignments]``."""
    codes = centroids[assignments].astype(np.float64)
    rows = shapes.astype(np.float64)
    residual = rows - codes
    mse = float(np.einsum("nd,nd->n", residual, residual).mean())
    dots = np.einsum("nd,nd->n", rows, codes)
    norms = np.einsum("nd,nd->n", codes, codes)
    kept = np.divide(dots * dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return mse, float((np.einsum("nd,nd->n", rows, rows) - kept).mean())


def run_builder(shapes: np.ndarray, k: int, seed: int, spherical: bool) -> tuple[np.ndarray, np.ndarray]:
    """The project's default builder."""
    result = build_codebook(shapes, k, seed=seed, spherical=spherical)
    return result.centroids, result.assignments


def run_faiss_flat(shapes: np.ndarray, k: int, seed: int, spherical: bool) -> tuple[np.ndarray, np.ndarray]:
    """faiss flat Lloyd, 20 iterations, faiss defaults otherwise, then one assignment pass."""
    kmeans = faiss.Kmeans(shapes.shape[1], k, niter=20, seed=seed, spherical=spherical, min_points_per_centroid=1)
    kmeans.train(shapes)
    return kmeans.centroids, kmeans.index.search(shapes, 1)[1][:, 0]


def run_minibatch(shapes: np.ndarray, k: int, seed: int, spherical: bool) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn MiniBatchKMeans, batch 4096, defaults otherwise."""
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(n_clusters=k, batch_size=4096, random_state=seed).fit(shapes)
    return model.cluster_centers_.astype(np.float32), model.labels_


def timed(runner: Callable, shapes: np.ndarray, k: int, seed: int, spherical: bool,
          repeats: int) -> tuple[float, float, float]:
    """Return (median wall seconds, MSE, refit MSE) of ``repeats`` runs (errors of the last)."""
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        centroids, assignments = runner(shapes, k, seed, spherical)
        walls.append(time.perf_counter() - start)
    return (statistics.median(walls), *errors(shapes, centroids, assignments))


def compare(shapes: np.ndarray, k: int, args: argparse.Namespace) -> None:
    """Print one table: every method at codebook size ``k`` with ratios against faiss flat."""
    rows = [("builder (auto)", run_builder, False, args.repeats),
            ("builder spherical", run_builder, True, args.repeats),
            ("faiss flat 20 it", run_faiss_flat, False, args.baseline_repeats)]
    if k <= MINIBATCH_MAX_K and not args.no_minibatch:
        rows.append(("sklearn MiniBatch", run_minibatch, False, args.baseline_repeats))
    results = {}
    for name, runner, spherical, repeats in rows:
        results[name] = timed(runner, shapes, k, args.seed, spherical, repeats)
        print(f"  ... {name}: {results[name][0]:.2f} s", file=sys.stderr, flush=True)
    flat_time, flat_mse, _ = results["faiss flat 20 it"]
    print(f"\nK = {k:,}, N = {shapes.shape[0]:,} x D = {shapes.shape[1]}")
    print("| method | wall [s] | MSE | refit MSE | speed-up vs flat | MSE / flat MSE |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (wall, mse, refit) in results.items():
        print(f"| {name} | {wall:.2f} | {mse:.6f} | {refit:.6f} | {flat_time / wall:.1f}x | {mse / flat_mse:.3f} |")
    if k > MINIBATCH_MAX_K or args.no_minibatch:
        print(f"| sklearn MiniBatch | skipped: its k-means++ seeding is sequential in K "
              f"(impractical above K = {MINIBATCH_MAX_K:,}) | | | | |" if not args.no_minibatch else
              "| sklearn MiniBatch | skipped (--no-minibatch) | | | | |")
    if k in TARGETS:
        speed, quality = TARGETS[k]
        wall, mse, _ = results["builder (auto)"]
        verdict = "met" if flat_time / wall >= speed and mse / flat_mse <= quality else "MISSED"
        print(f"target K = {k:,}: >= {speed:.0f}x faster and MSE <= {quality:.2f} x flat -> {verdict} "
              f"({flat_time / wall:.1f}x, {mse / flat_mse:.3f})")


def detection_head(args: argparse.Namespace) -> None:
    """Time the builder on the shipped detection head's splines at K = 4096 (target < 2 s)."""
    path = DETECTOR_DIR / HEAD_FILE
    if not path.is_file():
        print(f"\ndetection head: {path.relative_to(ROOT)} not found; skipped")
        return
    model = load_model(path)
    print(f"\ndetection head {path.relative_to(ROOT)}: widths {model.config.widths}, K = 4,096, gain**2 weights")
    print("| codebook scope | edges | wall [s] | target |")
    print("|---|---:|---:|---|")
    layers = []
    for coefficients in effective_coefficients(model):
        parts = decompose(coefficients.reshape(-1, coefficients.shape[-1]))
        live = parts.gains > 0
        layers.append((parts.shapes[live], (parts.gains[live] ** 2).astype(np.float32)))
    scopes = {"one per layer (default)": layers,
              "global": [(np.concatenate([s for s, _ in layers]), np.concatenate([w for _, w in layers]))]}
    for scope, groups in scopes.items():
        walls = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for shapes, weights in groups:
                build_codebook(shapes, 4096, seed=args.seed, weights=weights)
            walls.append(time.perf_counter() - start)
        wall = statistics.median(walls)
        edges = sum(s.shape[0] for s, _ in groups)
        print(f"| {scope} | {edges:,} | {wall:.2f} | < 2 s: {'met' if wall < 2 else 'MISSED'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[4096, 65536], help="codebook sizes")
    parser.add_argument("--n", type=int, default=1_000_000, help="shape vectors")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the builder (median)")
    parser.add_argument("--baseline-repeats", type=int, default=1, help="runs of faiss flat and MiniBatch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-minibatch", action="store_true", help="skip scikit-learn MiniBatchKMeans")
    parser.add_argument("--synthetic", action="store_true", help="ignore sample models, use synthetic shapes")
    parser.add_argument("--quick", action="store_true", help="200k shapes, K = 1024, one run each")
    args = parser.parse_args()
    if args.quick:
        args.n, args.k, args.repeats = 200_000, [1024], 1
    paths = [] if args.synthetic else kan_files()
    print(f"machine: {os.cpu_count()} cores, faiss {faiss.__version__} ({faiss.omp_get_max_threads()} OpenMP threads)")
    if paths:
        base, _ = model_shapes(paths)
        shapes = resampled(base, args.n, args.seed)
        names = ", ".join(p.name for p in paths)
        print(f"data: {base.shape[0]:,} live spline shapes of {names}, resampled to {args.n:,} "
              f"with N(0, {RESAMPLE_NOISE}) noise per coefficient")
    else:
        shapes = synthetic_shapes(args.n)
        print(f"data: synthetic clustered shapes ({args.n:,}; no KAN under sample_models/ or --synthetic)")
    print(f"builder: median of {args.repeats} run(s); baselines: {args.baseline_repeats} run(s)")
    for k in args.k:
        compare(shapes, k, args)
    detection_head(args)


if __name__ == "__main__":
    main()
