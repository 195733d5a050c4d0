"""The pure-torch compressed-domain forward (the fused kernels' reference and fallback) against the decompressed dense KAN."""
import numpy as np
import pytest
import torch

from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, compress, decompress
from sharekan_core.errors import SharekanError
from sharekan_core.model import bspline_basis
from sharekan_core.runtime import CompressedDomainKAN, load_runnable
from sharekan_core.runtime.local_basis import knot_interval, local_bases, pad_knots, place_bases

TOLERANCE = {32: 1e-5, 16: 1e-5, 8: 1e-3, 4: 1e-3}


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def inputs(width: int, rows: int = 64) -> torch.Tensor:
    """Uniform on [-1.6, 1.6]: inside the grid, in its extended knots and beyond them."""
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1.6, 1.6, size=(rows, width)).astype(np.float32))
    x[0, :] = -1.0  # exactly on knots
    x[1, :] = 1.0
    return x


@pytest.mark.parametrize("bits", [32, 16, 8, 4])
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_matches_decompressed_dense(bits, scope):
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=bits, scope=scope))
    x = inputs(12)
    with torch.no_grad():
        expected = decompress(compressed)(x)
        got = CompressedDomainKAN(compressed, backend="torch")(x)
    assert relative_error(got, expected) < TOLERANCE[bits]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_local_bases_equal_dense_basis_on_nonuniform_knots(order):
    grid = torch.sort(torch.randn(5, 7 + 2 * order + 1, generator=torch.Generator().manual_seed(order)), dim=1).values
    x = torch.randn(200, 5) * 2
    x[0] = grid[:, 0]
    x[1] = grid[:, -1]
    interval = knot_interval(x, grid)
    local = local_bases(x, pad_knots(grid, order), interval, order)
    assert local.shape == (200, 5, order + 1)
    placed = place_bases(local, interval, order, grid.shape[1] - order - 1)
    torch.testing.assert_close(placed, bspline_basis(x, grid, order), rtol=0, atol=1e-6)


def test_nonuniform_grid_model():
    model = prototype_kan((6, 5, 3), prototypes=4, seed=3)
    with torch.no_grad():
        for layer in model.layers:  # an imported pykan grid: strictly increasing, unevenly spaced
            steps = torch.rand(layer.grid.shape, generator=torch.Generator().manual_seed(7)) + 0.2
            layer.grid.copy_(torch.cumsum(steps, dim=1) / steps.sum(dim=1, keepdim=True) * 3 - 1.5)
    compressed = compress(model, CompressionConfig(codebook_size=4, bits=32))
    x = inputs(6)
    with torch.no_grad():
        assert relative_error(CompressedDomainKAN(compressed, backend="torch")(x), decompress(compressed)(x)) < 1e-5


def test_never_holds_a_dense_spline_tensor():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    module = CompressedDomainKAN(compressed, backend="torch")
    largest = max(t.numel() for t in module.buffers())
    assert largest < 12 * 10 * 13
    assert not list(module.parameters())
    assert module.layers[0].indices.dtype == torch.uint8


def test_large_batch_runs_in_chunks():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    module = CompressedDomainKAN(compressed, backend="torch")
    module.chunk_rows = lambda batch: 7
    x = inputs(12, rows=30)
    with torch.no_grad():
        assert relative_error(module(x), decompress(compressed)(x)) < 1e-3


@pytest.mark.parametrize("k,batch", [(8, 2), (8, 300), (1024, 2), (1024, 64)])
def test_response_and_tile_paths_agree_with_dense(k, batch):
    """Both spline paths (chosen by cost) match the decompressed model at 32 bits."""
    model = prototype_kan((40, 30, 5), prototypes=2000, seed=1)
    compressed = compress(model, CompressionConfig(codebook_size=k, bits=32))
    module = CompressedDomainKAN(compressed, backend="torch")
    x = inputs(40, rows=batch)
    with torch.no_grad():
        assert relative_error(module(x), decompress(compressed)(x)) < 1e-5


def test_path_choice_follows_cost():
    from sharekan_core.runtime.routes import use_tiles
    assert not use_tiles(2, 40, 30, 8, 13)      # tiny codebook, tiny batch: responses are cheapest
    assert use_tiles(300, 40, 30, 8, 13)        # large batch: decode once, one matrix product
    assert use_tiles(1, 576, 448, 65_536, 13)   # huge codebook: responses would cost in * K


def test_wrong_shape_names_expected_shape():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8))
    with pytest.raises(SharekanError, match=r"\(batch, 12\)"):
        CompressedDomainKAN(compressed)(torch.zeros(3, 11))


def test_loader_runs_compressed_files_in_compressed_domain(tmp_path):
    from sharekan_core.format import save_compressed
    from sharekan_core.io import read_model

    model = read_model("sample_models/digits_kan.safetensors").model
    compressed = compress(model, CompressionConfig(codebook_size=32, bits=8))
    save_compressed(compressed, tmp_path / "d.skan")
    runnable = load_runnable(tmp_path / "d.skan")
    assert isinstance(runnable.module, CompressedDomainKAN) and runnable.kind == "compressed"
    x = inputs(64)
    with torch.no_grad():
        assert relative_error(runnable.module(x), decompress(compressed)(x)) < 1e-3
