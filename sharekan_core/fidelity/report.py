"""Fidelity of reconstructed spline coefficients: R^2, relative L2 and function-space error."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model import KAN, bspline_basis

SAMPLES_PER_INTERVAL = 8


@dataclass(frozen=True)
class EdgeFidelity:
    """Per-edge metrics, each (out, in): coefficient relative L2, coefficient R^2, function relative RMS."""

    coef_rel_l2: np.ndarray
    coef_r2: np.ndarray
    function_rel_rms: np.ndarray


@dataclass(frozen=True)
class LayerFidelity:
    """Layer totals: R^2 and relative L2 of coefficients, relative RMS of the spline functions."""

    layer: int
    coef_r2: float
    coef_rel_l2: float
    function_rel_rms: float
    base_weight_rel_l2: float
    edges: EdgeFidelity


@dataclass(frozen=True)
class FidelityReport:
    """Per-layer fidelity plus whole-model coefficient and function errors."""

    layers: list[LayerFidelity]
    coef_rel_l2: float
    function_rel_rms: float


def spline_samples(grid: np.ndarray, order: int, per_interval: int = SAMPLES_PER_INTERVAL) -> tuple[np.ndarray, np.ndarray]:
    """Sample points over each input's spline domain and the basis there.

    Returns xs (in, S) and basis (in, S, D), the domain being [grid[:, k], grid[:, -k-1]].
    """
    grid_t = torch.as_tensor(grid, dtype=torch.float64)
    intervals = grid_t.shape[1] - 2 * order - 1
    steps = torch.linspace(0.0, 1.0, intervals * per_interval + 1, dtype=torch.float64)
    lo, hi = grid_t[:, order:order + 1], grid_t[:, -order - 1:-order]
    xs = lo + (hi - lo) * steps  # (in, S)
    xs[:, -1] = torch.nextafter(xs[:, -1], lo[:, 0])  # the right end is open in the basis
    basis = bspline_basis(xs.t(), grid_t, order)  # (S, in, D)
    return xs.numpy(), basis.permute(1, 0, 2).numpy()


def _quadratic_form(coefficients: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """c^T M_i c for every edge: coefficients (out, in, D), gram (in, D, D) -> (out, in)."""
    per_input = coefficients.transpose(1, 0, 2)  # (in, out, D): batched BLAS matmul per input
    return np.einsum("iod,iod->oi", per_input @ gram, per_input)


def _edge_sums(original: np.ndarray, reconstructed: np.ndarray, grid: np.ndarray, order: int) -> dict[str, np.ndarray]:
    """Per-edge squared errors and energies, in coefficient and in function space."""
    delta = reconstructed - original
    _, basis = spline_samples(grid, order)
    gram = np.einsum("isd,ise->ide", basis, basis) / basis.shape[1]  # (in, D, D)
    centred = original - original.mean(axis=-1, keepdims=True)
    return {
        "err": np.einsum("oid,oid->oi", delta, delta),
        "energy": np.einsum("oid,oid->oi", original, original),
        "spread": np.einsum("oid,oid->oi", centred, centred),
        "f_err": np.maximum(_quadratic_form(delta, gram), 0.0),
        "f_energy": np.maximum(_quadratic_form(original, gram), 0.0),
    }


def edge_fidelity(original: np.ndarray, reconstructed: np.ndarray, grid: np.ndarray, order: int) -> EdgeFidelity:
    """Per-edge metrics between coefficient tensors (out, in, D) on the given knots."""
    return _edge_metrics(_edge_sums(original, reconstructed, grid, order))


def _edge_metrics(sums: dict[str, np.ndarray]) -> EdgeFidelity:
    return EdgeFidelity(
        coef_rel_l2=_ratio(np.sqrt(sums["err"]), np.sqrt(sums["energy"])),
        coef_r2=1.0 - _ratio(sums["err"], sums["spread"]),
        function_rel_rms=_ratio(np.sqrt(sums["f_err"]), np.sqrt(sums["f_energy"])),
    )


def fidelity_report(original: KAN, reconstructed: KAN) -> FidelityReport:
    """Compare the effective coefficients and base weights of two KANs of one architecture."""
    layers, totals = [], np.zeros(4)
    for index, (a, b) in enumerate(zip(original.layers, reconstructed.layers)):
        coef_a = a.scaled_spline_weight().detach().double().numpy()
        coef_b = b.scaled_spline_weight().detach().double().numpy()
        sums = _edge_sums(coef_a, coef_b, a.grid.detach().double().numpy(), a.spline_order)
        err, energy = float(sums["err"].sum()), float(sums["energy"].sum())
        f_err, f_energy = float(sums["f_err"].sum()), float(sums["f_energy"].sum())
        spread = float(((coef_a - coef_a.mean()) ** 2).sum())
        base_a = a.base_weight.detach().double().numpy()
        base_b = b.base_weight.detach().double().numpy()
        layers.append(LayerFidelity(
            layer=index,
            coef_r2=1.0 - _scalar_ratio(err, spread),
            coef_rel_l2=_scalar_ratio(err, energy) ** 0.5,
            function_rel_rms=_scalar_ratio(f_err, f_energy) ** 0.5,
            base_weight_rel_l2=_scalar_ratio(float(((base_b - base_a) ** 2).sum()), float((base_a ** 2).sum())) ** 0.5,
            edges=_edge_metrics(sums),
        ))
        totals += (err, energy, f_err, f_energy)
    return FidelityReport(layers, _scalar_ratio(totals[0], totals[1]) ** 0.5, _scalar_ratio(totals[2], totals[3]) ** 0.5)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0/0 -> 0 and x/0 -> inf."""
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    out[(denominator <= 0) & (numerator > 0)] = np.inf
    return out


def _scalar_ratio(numerator: float, denominator: float) -> float:
    if denominator > 0:
        return numerator / denominator
    return 0.0 if numerator == 0 else float("inf")
