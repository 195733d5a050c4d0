"""1ssb/torchkan's layer as a basis KAN layer (``basis_kan.BasisKANLayer``), for its file path: the B-spline basis on
the layer's own knots as the basis module, and the LayerNorm and PReLU torchkan applies after each layer's sum as the
output module (its earlier version has no PReLU):

    y = prelu(layer_norm(base_weight @ act(x) + sum_i sum_d C[o, i, d] B_d(x_i)))
"""
from __future__ import annotations

import torch
from torch import nn

from .bspline import bspline_basis


class BSplineBasis(nn.Module):
    """(..., in) -> (..., in, n - order - 1): the B-splines of ``order`` on per-input knots ``grid`` (in, n)."""

    def __init__(self, grid: torch.Tensor, order: int):
        super().__init__()
        self.register_buffer("grid", grid.detach().clone())
        self.order = int(order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The bases of every input, as efficient-kan and torchkan compute them (zero outside the knots)."""
        flat = x.reshape(-1, x.shape[-1])
        return bspline_basis(flat, self.grid, self.order).reshape(*x.shape, -1)


class NormThenPReLU(nn.Module):
    """What torchkan applies after a layer's sum: prelu(layer_norm(y)), or layer_norm(y) alone (no PReLU)."""

    def __init__(self, norm: nn.LayerNorm, prelu: nn.PReLU | None):
        super().__init__()
        self.norm = norm
        self.prelu = prelu

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """prelu(norm(y))."""
        y = self.norm(y)
        return y if self.prelu is None else self.prelu(y)
