"""Fidelity metrics, coefficient statistics and the magnitude-pruning baseline."""
import numpy as np
import pytest
import torch

from sharekan_core.compression import prune_by_magnitude
from sharekan_core.errors import SharekanError
from sharekan_core.fidelity import coefficient_statistics, edge_fidelity, fidelity_report, spline_samples
from sharekan_core.model import bspline_basis


def test_identical_models_have_perfect_fidelity(small_kan):
    report = fidelity_report(small_kan, small_kan)
    assert report.coef_rel_l2 == 0 and report.function_rel_rms == 0
    assert all(layer.coef_r2 == 1.0 for layer in report.layers)


def test_function_error_matches_direct_sampling(small_kan):
    layer = small_kan.layers[0]
    original = layer.scaled_spline_weight().detach().double().numpy()
    noisy = original + np.random.default_rng(0).normal(scale=0.01, size=original.shape)
    grid = layer.grid.double().numpy()
    fid = edge_fidelity(original, noisy, grid, 3)
    xs, _ = spline_samples(grid, 3)
    basis = bspline_basis(torch.from_numpy(xs.T), torch.from_numpy(grid), 3).numpy()  # (S, in, D)
    f_orig = np.einsum("sid,oid->ois", basis, original)
    f_noisy = np.einsum("sid,oid->ois", basis, noisy)
    direct = np.sqrt(((f_noisy - f_orig) ** 2).mean(-1) / (f_orig ** 2).mean(-1))
    np.testing.assert_allclose(fid.function_rel_rms, direct, rtol=1e-8)
    assert np.all(fid.coef_r2 < 1.0)


def test_statistics_on_known_values(small_kan):
    with torch.no_grad():
        small_kan.layers[1].spline_weight.copy_(torch.arange(18 * 13, dtype=torch.float32).reshape(3, 6, 13))
        small_kan.layers[1].spline_scaler.fill_(1.0)
    row = coefficient_statistics(small_kan)[1]
    values = np.arange(18 * 13, dtype=np.float64)
    assert row["mean"] == pytest.approx(values.mean())
    assert row["std"] == pytest.approx(values.std())
    assert row["kurtosis"] == pytest.approx(-1.2, abs=1e-3)  # uniform distribution
    assert (row["min"], row["max"]) == (0.0, values.max())
    assert (row["grid_min"], row["grid_max"]) == pytest.approx((-1.0, 1.0))


def test_pruning_removes_smallest_edges(small_kan):
    pruned = prune_by_magnitude(small_kan, 0.5)
    norms = small_kan.layers[0].scaled_spline_weight().norm(dim=-1).detach().numpy()
    kept = pruned.kept[0]
    assert kept.sum() == 24
    assert norms[kept].min() >= norms[~kept].max()
    removed = pruned.model.layers[0].spline_weight.detach().numpy()[~kept]
    assert np.all(removed == 0)
    untouched = prune_by_magnitude(small_kan, 0.0)
    x = torch.randn(5, 8)
    torch.testing.assert_close(untouched.model(x), small_kan(x))


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), "0.5", True])
def test_pruning_rejects_bad_sparsity(small_kan, bad):
    with pytest.raises(SharekanError, match="sparsity"):
        prune_by_magnitude(small_kan, bad)
