"""Small reference layers of the KAN families with other bases, written from their published math and parameter
names (the libraries are GitHub-only): FastKAN, ChebyKAN and torch-conv-kan's Gram (KAGN) layer. They give real
state dicts in each family's layout, read by the file importer (tests/test_io_other_bases.py) and by compress_ live."""
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
    """torch-conv-kan's GRAMLayer (IvanDrokin/torch-conv-kan, kans/layers.py), reproduced from its published math
    and parameter names: y = act(norm(sum_i sum_d c[i, o, d] act(P_d(tanh x_i)) + act(x) @ base_weights.T)), the
    Gram polynomials P_0 = 1, P_1 = t, P_{n+1} = t P_n - beta(n, n + 1) P_{n-1}, with
    beta(n, m) = (m + n)(m - n) n^2 / (m^2 / (4 n^2 - 1)) * beta_weights[n]. Shapes: beta_weights (D + 1,),
    grams_basis_weights (in, out, D + 1), base_weights (out, in), norm = LayerNorm(out). The library caches
    gram_poly with lru_cache keyed on the input tensor; that changes no value, so it is left out here."""

    def __init__(self, in_features: int, out_features: int, degree: int = 3, act: type[nn.Module] = nn.SiLU):
        super().__init__()
        self.in_channels, self.out_channels, self.degrees = in_features, out_features, degree
        self.act = act()
        self.norm = nn.LayerNorm(out_features)
        self.beta_weights = nn.Parameter(torch.randn(degree + 1) / (in_features * (degree + 1.0)))
        self.grams_basis_weights = nn.Parameter(nn.init.xavier_uniform_(torch.empty(in_features, out_features,
                                                                                    degree + 1)))
        self.base_weights = nn.Parameter(nn.init.xavier_uniform_(torch.empty(out_features, in_features)))

    def beta(self, n: int, m: int) -> torch.Tensor:
        return (((m + n) * (m - n) * n ** 2) / (m ** 2 / (4.0 * n ** 2 - 1.0))) * self.beta_weights[n]

    def gram_poly(self, x: torch.Tensor, degree: int) -> torch.Tensor:
        previous = x.new_ones(x.size())
        if degree == 0:
            return previous.unsqueeze(-1)
        current, basis = x, [previous, x]
        for i in range(2, degree + 1):
            previous, current = current, x * current - self.beta(i - 1, i) * previous
            basis.append(current)
        return torch.stack(basis, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.linear(self.act(x), self.base_weights)
        grams = self.act(self.gram_poly(torch.tanh(x).contiguous(), self.degrees))
        y = torch.einsum("bld,lod->bo", grams, self.grams_basis_weights)
        return self.act(self.norm(y + base)).view(-1, self.out_channels)


class LayerList(nn.Module):
    """FastKAN's and torch-conv-kan's (KAGN) own net layout: the layers in a ModuleList named ``layers``, in turn."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
