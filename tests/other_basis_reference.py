"""Small reference layers of the KAN families with other bases, written from their published math and parameter
names (the libraries are GitHub-only): FastKAN, ChebyKAN and torch-conv-kan's Gram (KAGN) layer. They give real
state dicts in each family's layout; the tool refuses these families by name until it imports them."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FastKANLayer(nn.Module):
    """LayerNorm, then Gaussian RBFs exp(-((x - u_i) / h)^2) on a fixed grid, a linear map of them, plus
    base_linear(SiLU(x)). Shapes: rbf.grid (G,), spline_linear.weight (out, in * G), base_linear (out, in)."""

    def __init__(self, in_features: int, out_features: int, grid_min: float = -2.0, grid_max: float = 2.0,
                 num_grids: int = 8):
        super().__init__()
        self.layernorm = nn.LayerNorm(in_features)
        self.rbf = nn.Module()  # FastKAN's RadialBasisFunction: the grid parameter and the width, an attribute
        self.rbf.grid = nn.Parameter(torch.linspace(grid_min, grid_max, num_grids), requires_grad=False)
        self.rbf.denominator = (grid_max - grid_min) / (num_grids - 1)
        self.spline_linear = nn.Linear(in_features * num_grids, out_features, bias=False)
        self.base_linear = nn.Linear(in_features, out_features)
        self.base_activation = F.silu  # FastKAN keeps its base activation as a plain function attribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bases = torch.exp(-((self.layernorm(x)[..., None] - self.rbf.grid) / self.rbf.denominator) ** 2)
        return self.spline_linear(bases.flatten(-2)) + self.base_linear(self.base_activation(x))


class ChebyKANLayer(nn.Module):
    """y_o = sum_i sum_d c[i, o, d] T_d(tanh(x_i)), T_d(t) = cos(d arccos t). Shapes: cheby_coeffs (in, out, D + 1)."""

    def __init__(self, in_features: int, out_features: int, degree: int = 4):
        super().__init__()
        self.cheby_coeffs = nn.Parameter(torch.randn(in_features, out_features, degree + 1) / (in_features * (degree + 1)))
        self.register_buffer("arange", torch.arange(degree + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = torch.tanh(x).clamp(-1, 1).acos()[..., None] * self.arange
        return torch.einsum("bid,iod->bo", angles.cos(), self.cheby_coeffs)


class GramLayer(nn.Module):
    """torch-conv-kan's Gram (KAGN) layer, its parameters only: beta_weights (D + 1,), grams_basis_weights
    (in, out, D + 1), base_weights (out, in). Its forward is not written here: nothing runs it until the family
    is imported, and then it is to be held to the library's own recurrence."""

    def __init__(self, in_features: int, out_features: int, degree: int = 3):
        super().__init__()
        self.beta_weights = nn.Parameter(torch.ones(degree + 1))
        self.grams_basis_weights = nn.Parameter(torch.randn(in_features, out_features, degree + 1) * 0.1)
        self.base_weights = nn.Parameter(torch.randn(out_features, in_features) * 0.1)
