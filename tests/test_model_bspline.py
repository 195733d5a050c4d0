"""The B-spline basis against scipy's independent implementation, and KAN layer basics."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import BSpline

from sharekan_core.model import KAN, KANConfig, bspline_basis, uniform_grid


@settings(max_examples=25, deadline=None)
@given(grid_size=st.integers(1, 12), order=st.integers(0, 4), seed=st.integers(0, 10_000))
def test_basis_matches_scipy(grid_size: int, order: int, seed: int) -> None:
    grid = uniform_grid(2, grid_size, order, (-1.5, 2.0)).double()
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.5, 3.0, size=(64, 2))
    ours = bspline_basis(torch.from_numpy(x), grid, order).numpy()
    knots = grid[0].numpy()
    for d in range(grid_size + order):
        ref = BSpline.basis_element(knots[d:d + order + 2], extrapolate=False)(x)
        np.testing.assert_allclose(ours[..., d], np.nan_to_num(ref), atol=1e-6)


def test_basis_partition_of_unity_inside_domain() -> None:
    grid = uniform_grid(3, 10, 3)
    x = torch.linspace(-0.999, 0.999, 50).unsqueeze(1).expand(-1, 3)
    total = bspline_basis(x, grid, 3).sum(-1)
    torch.testing.assert_close(total, torch.ones_like(total))


def test_nonuniform_grid_matches_scipy() -> None:
    knots = np.sort(np.random.default_rng(1).uniform(-1, 1, 14))
    grid = torch.from_numpy(knots)[None, :]
    x = np.linspace(knots[0], knots[-1] - 1e-9, 200)[:, None]
    ours = bspline_basis(torch.from_numpy(x), grid, 3).numpy()
    for d in range(len(knots) - 4):
        ref = BSpline.basis_element(knots[d:d + 5], extrapolate=False)(x)
        np.testing.assert_allclose(ours[..., d], np.nan_to_num(ref), atol=1e-6)


def test_kan_layer_shapes_and_edges() -> None:
    model = KAN(KANConfig((5, 7, 2), grid_size=6, spline_order=2))
    assert model.num_edges == 5 * 7 + 7 * 2
    assert model.layers[0].spline_weight.shape == (7, 5, 8)
    assert model.layers[0].grid.shape == (5, 6 + 2 * 2 + 1)
    assert model(torch.randn(4, 5)).shape == (4, 2)


@pytest.mark.parametrize("order", [1, 3])
def test_layer_forward_equals_explicit_sum(order: int) -> None:
    torch.manual_seed(0)
    layer = KAN(KANConfig((3, 2), grid_size=4, spline_order=order)).layers[0]
    x = torch.rand(5, 3) * 2 - 1
    basis = bspline_basis(x, layer.grid, order)
    manual = (torch.nn.functional.silu(x)[:, None, :] * layer.base_weight).sum(-1)
    manual = manual + torch.einsum("bid,oid->bo", basis, layer.scaled_spline_weight())
    torch.testing.assert_close(layer(x), manual)
