"""ChebyKAN's basis: Chebyshev polynomials T_d(tanh x) = cos(d arccos(tanh x)), d = 0..degree."""
from __future__ import annotations

import torch
from torch import nn


class ChebyshevBasis(nn.Module):
    """(..., in) -> (..., in, degree + 1), computed as ChebyKAN does (arccos, then cos of multiples)."""

    def __init__(self, degree: int):
        super().__init__()
        self.degree = degree
        self.register_buffer("orders", torch.arange(degree + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """T_0 .. T_degree of tanh(x), per input."""
        return (torch.tanh(x).clamp(-1, 1).acos()[..., None] * self.orders).cos()
