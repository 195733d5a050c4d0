"""The codebook builder: quality against plain Lloyd, determinism, distinct rows, weights, errors."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharekan_core.compression.codebook import Clustering, ShapeCodebook, build_codebook
from sharekan_core.errors import SharekanError

ROOT = Path(__file__).resolve().parents[1]
LLOYD_MARGIN = 1.08  # two-level MSE may exceed plain Lloyd's (faiss flat, 20 iterations) by at most 8%


def unit_shapes(rows: np.ndarray) -> np.ndarray:
    """Rows projected to zero mean and unit norm, as float32 (what decompose() produces)."""
    rows = rows - rows.mean(axis=1, keepdims=True)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered_shapes(n: int, prototypes: int = 40, noise: float = 0.15, seed: int = 0) -> np.ndarray:
    """Shapes scattered around a few random prototypes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(prototypes, 13))
    return unit_shapes(centres[rng.integers(0, prototypes, n)] + noise * rng.normal(size=(n, 13)))


def uniform_shapes(n: int, seed: int = 0) -> np.ndarray:
    """Shapes spread evenly over the sphere: the hard case for cell-based k-means."""
    return unit_shapes(np.random.default_rng(seed).normal(size=(n, 13)))


def fingerprint(codebook: Clustering) -> str:
    """Hash of everything the compressor writes from a codebook."""
    digest = hashlib.sha256(codebook.centroids.tobytes())
    digest.update(codebook.assignments.tobytes())
    digest.update(repr(codebook.inertia).encode())
    return digest.hexdigest()


def check_consistent(shapes: np.ndarray, codebook: Clustering, limit: int, weights: np.ndarray | None = None) -> None:
    """Invariants of every result: shapes, dtypes, usage order, exact means and inertia."""
    k_eff = codebook.centroids.shape[0]
    assert codebook.centroids.dtype == np.float32 and codebook.centroids.shape == (k_eff, shapes.shape[1])
    assert codebook.assignments.dtype == np.int64 and codebook.assignments.shape == (shapes.shape[0],)
    assert 1 <= k_eff <= min(limit, shapes.shape[0])
    usage = np.bincount(codebook.assignments, minlength=k_eff)
    assert usage.min() > 0 and np.all(np.diff(usage) <= 0), "every centroid used, most used first"
    residual = shapes.astype(np.float64) - codebook.centroids[codebook.assignments]
    errors = (residual ** 2).sum(axis=1)
    expected = errors.sum() if weights is None else errors @ weights
    assert codebook.inertia == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("make_shapes", [clustered_shapes, uniform_shapes])
@pytest.mark.parametrize("k", [64, 256])
def test_two_level_mse_stays_near_plain_lloyd(make_shapes, k):
    shapes = make_shapes(20_000)
    lloyd = build_codebook(shapes, k, method="flat")
    two_level = build_codebook(shapes, k, method="two-level")
    assert two_level.method == "two-level" and two_level.centroids.shape[0] >= 0.95 * k
    assert two_level.inertia <= LLOYD_MARGIN * lloyd.inertia


def test_auto_runs_exact_lloyd_on_small_problems():
    shapes = clustered_shapes(3_000)
    auto = build_codebook(shapes, 32)
    assert auto.method == "exact"
    assert fingerprint(auto) == fingerprint(build_codebook(shapes, 32, method="exact"))
    assert auto.inertia <= build_codebook(shapes, 32, method="flat").inertia


@pytest.mark.parametrize("method", ["auto", "two-level", "flat"])
def test_same_seed_gives_identical_results(method):
    shapes = clustered_shapes(20_000)
    first, second = (build_codebook(shapes, 300, seed=7, method=method) for _ in range(2))
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(build_codebook(shapes, 300, seed=8, method=method)) != fingerprint(first)


def test_identical_across_processes_and_thread_counts():
    script = ("import sys, hashlib, numpy as np; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
              "from test_codebook import clustered_shapes, fingerprint\n"
              "from sharekan_core.compression.codebook import build_codebook\n"
              "shapes = clustered_shapes(60_000)\n"
              "print(fingerprint(build_codebook(shapes, 1024, seed=3)), "
              "fingerprint(build_codebook(shapes, 1024, seed=3, weights=np.linspace(0.1, 2, 60_000))))")
    prints = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", script, str(ROOT), str(ROOT / "tests")], env=env,
                             capture_output=True, text=True, timeout=300, check=True)
        prints.add(run.stdout.strip())
    shapes = clustered_shapes(60_000)
    here = (f"{fingerprint(build_codebook(shapes, 1024, seed=3))} "
            f"{fingerprint(build_codebook(shapes, 1024, seed=3, weights=np.linspace(0.1, 2, 60_000)))}")
    assert prints == {here}


@pytest.mark.parametrize("method", ["auto", "two-level", "flat", "exact"])
def test_codebook_larger_than_distinct_rows_returns_them_exactly(method):
    distinct = clustered_shapes(10, seed=1)
    shapes = distinct[np.random.default_rng(0).integers(0, 10, 500)]
    codebook = build_codebook(shapes, 16, method=method)
    assert codebook.method == "distinct" and codebook.centroids.shape[0] == 10
    np.testing.assert_array_equal(codebook.centroids[codebook.assignments], shapes)
    assert codebook.inertia == 0.0
    assert build_codebook(shapes[:5], 64).centroids.shape[0] == len(np.unique(shapes[:5], axis=0))


def test_codebook_one_short_of_distinct_rows_clusters():
    shapes = np.repeat(clustered_shapes(11, seed=2), 40, axis=0)
    codebook = build_codebook(shapes, 10, method="two-level")
    assert codebook.method == "two-level" and codebook.centroids.shape[0] <= 10
    check_consistent(shapes, codebook, 10)


def test_negative_zero_counts_as_zero():
    shapes = np.array([[0.0, 1.0], [-0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    assert build_codebook(shapes, 2).centroids.shape[0] == 2


@pytest.mark.parametrize("method", ["auto", "two-level", "flat", "exact"])
def test_centroids_are_weighted_means_and_weights_steer_them(method):
    shapes = uniform_shapes(4_000, seed=3)
    heavy = shapes[:, 0] > 0.3
    weights = np.where(heavy, 50.0, 1.0)
    weighted = build_codebook(shapes, 40, weights=weights, method=method)
    check_consistent(shapes, weighted, 40, weights)
    for index in range(weighted.centroids.shape[0]):
        members = weighted.assignments == index
        mean = np.average(shapes[members].astype(np.float64), axis=0, weights=weights[members])
        np.testing.assert_allclose(weighted.centroids[index], mean, atol=1e-5)
    plain = build_codebook(shapes, 40, method=method)

    def heavy_error(codebook: Clustering) -> float:
        residual = shapes[heavy] - codebook.centroids[codebook.assignments[heavy]]
        return float((residual ** 2).sum())

    assert heavy_error(weighted) < 0.8 * heavy_error(plain)


def test_zero_weight_rows_do_not_pull_centroids():
    shapes = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0], [5.0, 5.5]], dtype=np.float32)
    codebook = build_codebook(shapes, 2, weights=np.array([1.0, 1.0, 1.0, 1.0, 0.0]))
    assert sorted(map(tuple, codebook.centroids.tolist())) == [(0.0, 0.5), (10.0, 10.5)]


def test_all_zero_weights_count_as_uniform():
    shapes = clustered_shapes(300)
    assert fingerprint(build_codebook(shapes, 8, weights=np.zeros(300))) == fingerprint(build_codebook(shapes, 8))


def test_spherical_centroids_have_unit_norm():
    shapes = clustered_shapes(20_000)
    for method in ("auto", "two-level"):
        codebook = build_codebook(shapes, 300, spherical=True, method=method)
        np.testing.assert_allclose(np.linalg.norm(codebook.centroids, axis=1), 1.0, atol=1e-5)


def test_progress_runs_from_zero_to_one():
    seen = []
    build_codebook(clustered_shapes(30_000), 1024, progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [fraction for fraction, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert all(isinstance(message, str) and message for _, message in seen)


@pytest.mark.parametrize("arguments, word", [
    ({"codebook_size": 1}, "codebook_size"),
    ({"codebook_size": 65_537}, "codebook_size"),
    ({"codebook_size": 2.5}, "codebook_size"),
    ({"codebook_size": True}, "codebook_size"),
    ({"seed": -1}, "seed"),
    ({"method": "fastest"}, "method"),
    ({"weights": np.ones(3)}, "weights"),
    ({"weights": -np.ones(50)}, "weights"),
    ({"weights": np.full(50, np.nan)}, "weights"),
])
def test_bad_parameters_raise_one_line_errors(arguments, word):
    call = {"shapes": clustered_shapes(50), "codebook_size": 8, **arguments}
    with pytest.raises(SharekanError) as error:
        build_codebook(call.pop("shapes"), call.pop("codebook_size"), **call)
    assert word in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("shapes", [
    np.array([[0.0, np.nan]], dtype=np.float32),
    np.array([[np.inf, 0.0], [0.0, 1.0]]),
    np.zeros((0, 13), dtype=np.float32),
    np.zeros(13, dtype=np.float32),
    np.array([["a", "b"]]),
])
def test_bad_shapes_raise(shapes):
    with pytest.raises(SharekanError, match="shapes"):
        build_codebook(shapes, 4)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 300), dim=st.integers(1, 13), distinct=st.integers(1, 300), k=st.integers(2, 64),
       method=st.sampled_from(["auto", "two-level", "flat"]), weighted=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_any_input_gives_a_consistent_deterministic_codebook(rows, dim, distinct, k, method, weighted, seed):
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(distinct, dim)).astype(np.float32)
    shapes = pool[rng.integers(0, distinct, rows)]
    weights = rng.uniform(0, 3, rows) if weighted else None
    codebook = build_codebook(shapes, k, seed=seed % 1000, weights=weights, method=method)
    check_consistent(shapes, codebook, k, weights)
    assert codebook.centroids.shape[0] <= len(np.unique(shapes, axis=0))
    again = build_codebook(shapes, k, seed=seed % 1000, weights=weights, method=method)
    assert fingerprint(codebook) == fingerprint(again)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 400), k=st.integers(2, 40), seed=st.integers(0, 1000))
def test_shape_codebook_fit_then_assign(rows, k, seed):
    """fit keeps build_codebook's result; assign gives every row a codeword at the least squared distance."""
    shapes = clustered_shapes(rows, prototypes=8, seed=seed)
    codebook = ShapeCodebook(k, seed=seed, method="exact").fit(shapes)
    reference = build_codebook(shapes, k, seed=seed, method="exact")
    np.testing.assert_array_equal(codebook.centroids, reference.centroids)
    np.testing.assert_array_equal(codebook.assignments, reference.assignments)
    others = uniform_shapes(50, seed=seed)
    assigned = codebook.assign(others)
    distances = ((others[:, None, :] - codebook.centroids[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances[np.arange(50), assigned], distances.min(axis=1), rtol=1e-5, atol=1e-6)


def test_shape_codebook_refuses_bad_use():
    with pytest.raises(SharekanError, match="not fitted"):
        ShapeCodebook(4).assign(np.zeros((3, 13)))
    codebook = ShapeCodebook.from_centroids(np.eye(4, 13))
    with pytest.raises(SharekanError, match="rows must have shape"):
        codebook.assign(np.zeros((3, 5)))
    for bad in (np.zeros((0, 13)), np.full((2, 13), np.nan), np.zeros(13)):
        with pytest.raises(SharekanError):
            ShapeCodebook.from_centroids(bad)


def test_the_clustering_result_s_old_name_warns_and_is_the_same_class():
    with pytest.warns(DeprecationWarning, match="Clustering"):
        from sharekan_core.compression.codebook import Codebook
    assert Codebook is Clustering
