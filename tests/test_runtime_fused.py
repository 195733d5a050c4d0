"""The fused numba kernels against their plain reference, ``decompress(compressed)(x)``: every bit-width,
every route (row, grouped, tile), non-uniform knots, inputs inside and outside the grid, 1 and 2 threads."""
import numba
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import prototype_kan, pykan_checkpoint
from sharekan_core.compression import CompressedKAN, CompressionConfig, compress, decompress, quantize
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.runtime import fused_kernel
from sharekan_core.runtime.fused_kernel import FusedKAN

TOLERANCE = {32: 1e-5, 16: 1e-5, 8: 1e-3, 4: 1e-3}
ROUTES = ("row", "grouped", "tile")


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def nonuniform(model):
    """Give every layer strictly increasing, unevenly spaced knots (as an imported pykan grid has)."""
    with torch.no_grad():
        for n, layer in enumerate(model.layers):
            steps = torch.rand(layer.grid.shape, generator=torch.Generator().manual_seed(n)) + 0.2
            layer.grid.copy_(torch.cumsum(steps, dim=1) / steps.sum(dim=1, keepdim=True) * 3 - 1.5)
    return model


def inputs(width: int, rows: int, seed: int = 1) -> np.ndarray:
    """Uniform on [-2, 2], beyond the knots on both sides; the first row sits exactly on -1."""
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, size=(rows, width)).astype(np.float32)
    x[0, :] = -1.0
    return x


def expected_output(compressed: CompressedKAN, x: np.ndarray) -> np.ndarray:
    """The plain reference: the decompressed dense KAN's forward."""
    with torch.no_grad():
        return decompress(compressed)(torch.from_numpy(x)).numpy()


def force_route(monkeypatch, route: str) -> None:
    """Make every layer take ``route`` whatever the batch (the tile route also for orders above 3)."""
    chosen = fused_kernel.fused_route
    monkeypatch.setattr(fused_kernel, "fused_route",
                        lambda batch, order: route if chosen(batch, order) != "tile" or route == "tile" else "tile")


@pytest.fixture(params=ROUTES)
def route(request, monkeypatch):
    force_route(monkeypatch, request.param)
    return request.param


@pytest.fixture
def restore_threads():
    threads = numba.get_num_threads()
    yield
    numba.set_num_threads(threads)


@pytest.mark.parametrize("bits", [32, 16, 8, 4])
@pytest.mark.parametrize("rows", [1, 7, 33, 300])
def test_matches_decompressed_on_nonuniform_knots_for_any_thread_count(bits, rows, route, restore_threads):
    # 40 outputs: blocks of 16 split them unevenly, so a thread's block ends inside a vector's lanes
    model = nonuniform(prototype_kan((12, 40, 4), prototypes=40, seed=2))
    compressed = compress(model, CompressionConfig(codebook_size=300 if bits == 8 else 16, bits=bits))
    fused = FusedKAN.from_compressed(compressed)
    x = inputs(12, rows)
    outputs = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        outputs.append(fused(x))
    assert relative_error(outputs[0], expected_output(compressed, x)) < TOLERANCE[bits]
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_default_routes_by_batch():
    """The rule in ``routes``: one row alone, then grouped rows, then tiles; orders above 3 always tile."""
    from sharekan_core.runtime.routes import GROUPED_FROM_ROWS, TILE_FROM_ROWS, fused_route

    assert [fused_route(b, 3) for b in (1, GROUPED_FROM_ROWS, TILE_FROM_ROWS)] == ["row", "grouped", "tile"]
    assert fused_route(1, 4) == "tile"


@pytest.mark.parametrize("kernel", ["row", "grouped"])
def test_a_rows_result_does_not_depend_on_the_other_rows(kernel, monkeypatch):
    """The row and grouped kernels compute each row's sums alone (the grouped one shares only the unpacking of
    rows in the same knot window): a row's output is bit-identical alone or in any batch."""
    force_route(monkeypatch, kernel)
    compressed = compress(nonuniform(prototype_kan((12, 40, 4), prototypes=40)), CompressionConfig(codebook_size=16))
    fused = FusedKAN.from_compressed(compressed)
    x = inputs(12, 9, seed=3)
    whole = fused(x)
    np.testing.assert_array_equal(whole[:1], fused(x[:1]))
    np.testing.assert_array_equal(whole[:2], fused(x[[0, 1, 0]])[:2])


@pytest.mark.parametrize("order", [1, 2, 4])
def test_other_spline_orders(order, route):
    """Orders below 3 pad the taps with zero weights; above 3 every batch takes the tile route."""
    model = nonuniform(prototype_kan((6, 20, 3), prototypes=12, order=order))
    compressed = compress(model, CompressionConfig(codebook_size=8, bits=8))
    for rows in (1, 9):
        x = inputs(6, rows)
        assert relative_error(FusedKAN.from_compressed(compressed)(x), expected_output(compressed, x)) < 1e-3


def test_tile_route_with_several_tiles(monkeypatch):
    """The tile route decodes cache-sized tiles; force several tiles per layer."""
    force_route(monkeypatch, "tile")
    monkeypatch.setattr(fused_kernel, "TILE_BYTES", 12 * 14 * 4 * 3)  # 3 output rows per tile
    compressed = compress(nonuniform(prototype_kan((12, 10, 4), prototypes=40)), CompressionConfig(codebook_size=16))
    x = inputs(12, 9)
    assert relative_error(FusedKAN.from_compressed(compressed)(x), expected_output(compressed, x)) < 1e-3


def test_real_pykan_knots(tmp_path):
    from sharekan_core.io import read_model

    _, samples, state = pykan_checkpoint(tmp_path)
    model = read_model(state).model
    spacing = torch.diff(model.layers[0].grid, dim=1)
    assert not torch.allclose(spacing, spacing[:, :1])  # imported knots are non-uniform
    compressed = compress(model, CompressionConfig(codebook_size=8, bits=32))
    x = np.concatenate([samples[:32].numpy(), inputs(4, 1) * 2])  # inside the grid and far outside
    assert relative_error(FusedKAN.from_compressed(compressed)(x), expected_output(compressed, x)) < 1e-5


def test_per_codeword_affine_codebooks_still_run():
    """Codebooks quantized with a pair per codeword (format version 1) are dequantized at load."""
    compressed = compress(prototype_kan((6, 5, 3), prototypes=10), CompressionConfig(codebook_size=8, bits=8))
    old = [quantize(c.dequantize(), 8, grouping="rows") for c in compressed.codebooks]
    legacy = CompressedKAN(old, compressed.layers, compressed.config, compressed.metadata)
    x = inputs(6, 3)
    assert relative_error(FusedKAN.from_compressed(legacy)(x), expected_output(legacy, x)) < 1e-3


@settings(max_examples=16, deadline=None)
@given(widths=st.lists(st.integers(1, 40), min_size=2, max_size=3), k=st.integers(2, 300),
       bits=st.sampled_from([32, 16, 8, 4]), rows=st.integers(1, 9), seed=st.integers(0, 99),
       route=st.sampled_from(ROUTES))
def test_property_matches_decompressed(widths, k, bits, rows, seed, route):
    compressed = compress(prototype_kan(tuple(widths), prototypes=6, seed=seed),
                          CompressionConfig(codebook_size=k, bits=bits, seed=seed))
    x = inputs(widths[0], rows, seed)
    expected = expected_output(compressed, x)
    with pytest.MonkeyPatch.context() as monkeypatch:
        force_route(monkeypatch, route)
        got = FusedKAN.from_compressed(compressed)(x)
    assert got.shape == expected.shape
    # float32 sums of O(1) spline terms carry ~1e-7 absolute rounding even when they cancel to a tiny output,
    # so the scale has a floor of 0.1 (hypothesis found an output of 0.0099 off by 1.3e-7)
    assert np.abs(got - expected).max() <= TOLERANCE[bits] * max(np.abs(expected).max(), 0.1)


def test_module_runs_fused_in_eager_and_torch_when_traced_or_differentiated():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    module = CompressedDomainKAN(compressed)
    reference = CompressedDomainKAN(compressed, backend="torch")
    x = torch.from_numpy(inputs(12, 5))
    assert module.runs_fused(x) and reference.fused is None
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x), rtol=0, atol=1e-5)
    x.requires_grad_(True)
    assert not module.runs_fused(x)
    assert module(x).requires_grad


def test_backend_is_validated():
    from sharekan_core.errors import SharekanError

    compressed = compress(prototype_kan((4, 3), prototypes=3), CompressionConfig(codebook_size=4))
    with pytest.raises(SharekanError, match="backend"):
        CompressedDomainKAN(compressed, backend="cuda")


def test_holds_codes_at_stored_width():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    fused = FusedKAN.from_compressed(compressed)
    layer = fused.layers[0]
    assert layer.indices_t.dtype == np.uint8 and layer.gains.codes_t.dtype == np.uint8
    codebook = fused.codebooks[0]
    assert codebook.codes.dtype == np.uint8 and codebook.column_min.shape == (13,)
    # interval-major taps: 10 windows of K words, each the 4 codes codebook[k, s:s+4]
    assert codebook.taps.shape == (10, codebook.codes.shape[0]) and codebook.taps.dtype == np.uint32
    np.testing.assert_array_equal(codebook.taps[3].view(np.uint8).reshape(-1, 4), codebook.codes[:, 3:7])
    largest = max(a.size for l in fused.layers for a in (l.indices_t, l.gains.codes_t, l.grid))
    assert largest < 12 * 10 * 13  # nothing the size of a dequantized (out, in, D) tensor


def test_kernels_compile_once_and_are_cached_across_processes(tmp_path):
    """Every kernel caches its compiled code on disk; a second process loads it instead of compiling again.

    Shown on ``window_groups``, which compiles in about a second (the mechanism, ``cache=True``, is the same
    for every kernel: bench/cold_start.py measures all of them)."""
    import json
    import os
    import subprocess
    import sys

    from numba.core.caching import FunctionCache

    assert all(isinstance(kernel._cache, FunctionCache) for kernel in fused_kernel.KERNELS)
    child = ("import json, numpy as np\n"
             "from sharekan_core.runtime import fused_kernel as fk\n"
             "start = np.zeros((3, 2), np.int64)\n"
             "fk.window_groups(start, 4, np.empty((3, 2), np.int64), np.empty((3, 3), np.int64), np.empty(3, np.int64))\n"
             "stats = fk.window_groups.stats\n"
             "print(json.dumps([sum(stats.cache_misses.values()), sum(stats.cache_hits.values())]))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [json.loads(subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True,
                                      check=True).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs == [[1, 0], [0, 1]]  # compiled once, then loaded
