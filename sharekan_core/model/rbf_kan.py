"""FastKAN's basis: LayerNorm (optional), then Gaussian RBFs exp(-((x - u_g) / h)^2) on a fixed grid u (G,)."""
from __future__ import annotations

import torch
from torch import nn


class RBFBasis(nn.Module):
    """(..., in) -> (..., in, G): the LayerNorm (None for a layer without one), grid (G,) and width h."""

    def __init__(self, grid: torch.Tensor, denominator: float, norm: nn.LayerNorm | None = None):
        super().__init__()
        self.norm = norm
        self.register_buffer("grid", grid.detach().clone())
        self.denominator = float(denominator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each input's G Gaussian bumps, after the LayerNorm."""
        x = x if self.norm is None else self.norm(x)
        return torch.exp(-((x[..., None] - self.grid) / self.denominator) ** 2)
