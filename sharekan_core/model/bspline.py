"""B-spline basis on per-input knot grids (Cox-de Boor recursion).

Hand-written because no maintained library evaluates a batch of B-spline bases
on per-input knot vectors inside a differentiable torch graph; scipy's BSpline
(used as the test reference) is scalar-knot and numpy-only.
"""
from __future__ import annotations

import torch


def uniform_grid(in_features: int, grid_size: int, order: int,
                 grid_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Return the extended uniform knot grid, shape (in_features, grid_size + 2*order + 1)."""
    lo, hi = grid_range
    step = (hi - lo) / grid_size
    knots = torch.arange(-order, grid_size + order + 1, dtype=torch.float32) * step + lo
    return knots.expand(in_features, -1).contiguous()


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """Evaluate all B-spline bases of ``order`` at ``x``.

    x: (batch, in), grid: (in, G + 2k + 1) -> returns (batch, in, G + k).
    Zero outside [grid[:, 0], grid[:, -1]), as in efficient-kan and pykan.
    """
    x = x.unsqueeze(-1)
    g = grid.unsqueeze(0)
    bases = ((x >= g[..., :-1]) & (x < g[..., 1:])).to(x.dtype)
    for p in range(1, order + 1):
        left = (x - g[..., : -(p + 1)]) / (g[..., p:-1] - g[..., : -(p + 1)])
        right = (g[..., p + 1:] - x) / (g[..., p + 1:] - g[..., 1:(-p)])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases
