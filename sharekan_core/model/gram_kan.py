"""torch-conv-kan's Gram (KAGN) basis: Gram polynomials of tanh x with learned recurrence weights, then the layer's
activation, as GRAMLayer in IvanDrokin/torch-conv-kan's kans/layers.py computes them, and the norm and activation
it applies after the sum.

    P_0 = 1, P_1 = t, P_{n+1} = t P_n - beta(n, n + 1) P_{n-1},  t = tanh x
    beta(n, m) = (m + n)(m - n) n^2 / (m^2 / (4 n^2 - 1)) * beta_weights[n]
    basis(x) = act(P_0(t) .. P_D(t))   (..., in, D + 1)

beta_weights (D + 1,) belong to the basis (every edge shares them), so they stay dense when a layer is compressed.
"""
from __future__ import annotations

import torch
from torch import nn

from .kan import BASE_ACTIVATIONS, check_base_activation


def gram_beta(n: int, beta_weights: torch.Tensor) -> torch.Tensor:
    """beta(n, n + 1), the recurrence's weight for P_{n-1}, in the library's order of operations."""
    m = n + 1
    return (((m + n) * (m - n) * n ** 2) / (m ** 2 / (4.0 * n ** 2 - 1.0))) * beta_weights[n]


class GramBasis(nn.Module):
    """(..., in) -> (..., in, D + 1): ``activation`` of the Gram polynomials P_0 .. P_D of tanh x."""

    def __init__(self, beta_weights: torch.Tensor, activation: str = "silu"):
        super().__init__()
        self.register_buffer("beta_weights", beta_weights.detach().clone())  # (D + 1,)
        self.activation = check_base_activation(activation)
        self.degree = len(beta_weights) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """act(P_d(tanh x)), d = 0..degree, per input."""
        t = torch.tanh(x)
        polynomials = [torch.ones_like(t), t][:self.degree + 1]
        for n in range(1, self.degree):
            polynomials.append(t * polynomials[n] - gram_beta(n, self.beta_weights) * polynomials[n - 1])
        return BASE_ACTIVATIONS[self.activation](torch.stack(polynomials, dim=-1))


class NormThenActivation(nn.Module):
    """What GRAMLayer applies after the sum: act(LayerNorm(y)) over the outputs, (..., out) -> (..., out)."""

    def __init__(self, norm: nn.LayerNorm, activation: str = "silu"):
        super().__init__()
        self.norm = norm
        self.activation = check_base_activation(activation)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """act(norm(y))."""
        return BASE_ACTIVATIONS[self.activation](self.norm(y))
