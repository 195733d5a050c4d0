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


class LayerChain(nn.Module):
    """Layers applied in turn, (..., in) -> (..., out), with the module that sits between two of them (a LayerNorm,
    as ChebyKAN's nets keep; None where nothing does): a BasisKAN, its compressed runtime and its export."""

    def __init__(self, layers: list[nn.Module], between: list[nn.Module | None] | None = None):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        norms = between or [None] * (len(layers) - 1)
        self.between = nn.ModuleList(nn.Identity() if norm is None else norm for norm in norms)

    def norms(self) -> list[nn.Module | None]:
        """The module after each layer but the last (None where nothing sits between)."""
        return [None if isinstance(norm, nn.Identity) else norm for norm in self.between]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each layer on the last one's outputs, through the module between them if any."""
        return self.layer_inputs(x, with_output=True)[-1]

    def layer_inputs(self, x: torch.Tensor, with_output: bool = False) -> list[torch.Tensor]:
        """The inputs each layer sees when the chain runs on ``x``, in order (calibration for every layer), and its
        output after them with ``with_output``."""
        inputs = []
        for index, layer in enumerate(self.layers):
            if index:
                x = self.between[index - 1](x)
            inputs.append(x)
            x = layer(x)
        return inputs + [x] if with_output else inputs


class BasisKAN(LayerChain):
    """A KAN of one global-basis family read from a file: its BasisKANLayers as the family's own net chains them
    (FastKAN's ModuleList, an nn.Sequential of ChebyKAN or Gram layers, torchkan's lists), with the LayerNorm a
    ChebyKAN net keeps between two layers. ``positions`` are the layers' indices in the source's container, for
    writing it back in its own layout."""

    def __init__(self, layers: list[BasisKANLayer], family: str, between: list[nn.LayerNorm | None] | None = None,
                 positions: list[int] | None = None):
        super().__init__(layers, between)
        self.family = family
        self.positions = list(range(len(layers))) if positions is None else list(positions)

    @property
    def num_edges(self) -> int:
        """Edges over all layers: out * in each."""
        return sum(layer.out_features * layer.in_features for layer in self.layers)

    @property
    def nbytes(self) -> int:
        """Bytes of the dense net's tensors (coefficients, base weights, the basis's and norms' own tensors)."""
        return sum(value.numel() * value.element_size() for value in self.state_dict().values())
