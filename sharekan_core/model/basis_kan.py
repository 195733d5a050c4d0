"""KAN layers with a global basis (FastKAN's Gaussian RBFs, ChebyKAN's Chebyshev polynomials, torch-conv-kan's Gram
polynomials): any basis module that maps (..., in) to (..., in, D), per-edge coefficients over it, an optional linear
base branch and an optional module applied after the sum.

Shapes (D basis functions per input):
    basis(x)      (..., in, D)   the basis module's output (it may normalise x first, as FastKAN's LayerNorm does)
    spline_weight (out, in, D)   coefficients of each edge
    base_weight   (out, in)      base branch b(x) = base_activation(x) @ base_weight.T + base_bias (or None)
    base_bias     (out,)         (or None)
    output        a module applied to the sum (torch-conv-kan's Gram layer: act(LayerNorm(y))), or None
"""
from __future__ import annotations

import torch
from torch import nn

from .kan import BASE_ACTIVATIONS, check_base_activation


def base_branch(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                activation: str) -> torch.Tensor | None:
    """The base branch's output (..., out) on raw inputs, or None for a layer without one."""
    if weight is None:
        return None
    return nn.functional.linear(BASE_ACTIVATIONS[activation](x), weight, bias)


def apply_basis(bases: torch.Tensor, coefficients: torch.Tensor, base: torch.Tensor | None,
                output: nn.Module | None = None) -> torch.Tensor:
    """sum_i sum_d c[o, i, d] phi_d(x_i), plus the base branch, then ``output`` if any: (..., in, D) x (out, in, D)
    -> (..., out)."""
    spline = torch.einsum("...id,oid->...o", bases, coefficients)
    total = spline if base is None else spline + base
    return total if output is None else output(total)


class BasisKANLayer(nn.Module):
    """One KAN layer over a global basis module: y = output(sum_i c_i . basis(x)_i + base_branch(x))."""

    def __init__(self, basis: nn.Module, spline_weight: torch.Tensor, base_weight: torch.Tensor | None = None,
                 base_bias: torch.Tensor | None = None, base_activation: str = "silu", output: nn.Module | None = None):
        super().__init__()
        self.basis = basis
        self.spline_weight = nn.Parameter(spline_weight.detach().clone())
        self.base_weight = None if base_weight is None else nn.Parameter(base_weight.detach().clone())
        self.base_bias = None if base_bias is None else nn.Parameter(base_bias.detach().clone())
        self.base_activation = check_base_activation(base_activation)
        self.output = output
        self.out_features, self.in_features, self.num_coefficients = spline_weight.shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (..., in) to (..., out)."""
        base = base_branch(x, self.base_weight, self.base_bias, self.base_activation)
        return apply_basis(self.basis(x), self.spline_weight, base, self.output)
