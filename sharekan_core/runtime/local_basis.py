"""B-spline bases from local support: per input, the knot interval and its k + 1 non-zero bases.

Works on any strictly increasing knots (uniform or imported non-uniform pykan grids). The dense
Cox-de Boor in ``model.bspline`` evaluates all G + k bases; here only the k + 1 that can be
non-zero are computed, then placed at their basis positions.
"""
from __future__ import annotations

import torch


def pad_knots(grid: torch.Tensor, order: int) -> torch.Tensor:
    """Extend each knot row by ``order + 1`` knots per side at the edge spacing: (in, n) -> (in, n + 2k + 2).

    Bases outside the real ones read these knots; they are dropped later, so any increasing
    values work, and these keep every denominator positive.
    """
    steps = torch.arange(1, order + 2, dtype=grid.dtype)
    left = grid[:, :1] - (grid[:, 1:2] - grid[:, :1]) * steps.flip(0)
    right = grid[:, -1:] + (grid[:, -1:] - grid[:, -2:-1]) * steps
    return torch.cat((left, grid, right), dim=1)


def knot_interval(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Index m with grid[i, m] <= x < grid[i, m + 1]; -1 below the grid, n - 1 at or above its end. (B, in) int64."""
    return (x.unsqueeze(-1) >= grid).sum(dim=-1) - 1


def local_bases(x: torch.Tensor, padded_knots: torch.Tensor, interval: torch.Tensor, order: int) -> torch.Tensor:
    """The k + 1 bases B_{m-k} .. B_m at x (de Boor's triangle), shape (B, in, k + 1)."""
    batch, width = x.shape
    offsets = torch.arange(-order, order + 2)  # knots t_{m-k} .. t_{m+k+1}
    positions = interval.unsqueeze(-1) + (order + 1) + offsets
    knots = torch.gather(padded_knots.expand(batch, width, -1), 2, positions)
    x = x.unsqueeze(-1)
    values = torch.ones_like(x)
    zero = torch.zeros_like(x)
    k = order
    for p in range(1, order + 1):
        left_knot, right_knot = knots[..., k - p:k + 1], knots[..., k + 1:k + p + 2]
        left = (x - left_knot) / (knots[..., k:k + p + 1] - left_knot) * torch.cat((zero, values), dim=-1)
        right = (right_knot - x) / (right_knot - knots[..., k - p + 1:k + 2]) * torch.cat((values, zero), dim=-1)
        values = left + right
    return values


def place_bases(values: torch.Tensor, interval: torch.Tensor, order: int, num_bases: int) -> torch.Tensor:
    """Scatter the k + 1 local values to basis positions m - k .. m; positions outside 0..D-1 drop. (B, in, D)."""
    # Scatter into a row padded by k + 1 on each side so out-of-range positions land in the
    # padding (one pass over B * in * (k + 1) values, instead of a one-hot product over D).
    positions = (interval.unsqueeze(-1) - order + torch.arange(order + 1)).clamp(-order - 1, num_bases) + order + 1
    padded = values.new_zeros(*values.shape[:-1], num_bases + 2 * order + 2)
    padded.scatter_(-1, positions, values)
    return padded[..., order + 1:order + 1 + num_bases]
