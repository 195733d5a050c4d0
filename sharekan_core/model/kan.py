"""KAN layers with efficient-kan's parameterisation, plus an optional per-output affine.

Shapes (E = out * in edges, D = G + k coefficients per edge):
    grid          (in, G + 2k + 1)   knots, per input
    base_weight   (out, in)          weight of the base branch, b(x) = BASE_ACTIVATIONS[name](x) (SiLU by default)
    spline_weight (out, in, D)       B-spline coefficients
    spline_scaler (out, in)          per-edge spline scale
    output_scale  (out,)             pykan's node/subnode scale (ones for efficient-kan)
    output_bias   (out,)             pykan's node/subnode bias (zeros for efficient-kan)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .bspline import bspline_basis, uniform_grid


# The base branch's activation by name, each exactly the torch.nn module of that name at its defaults
# (efficient-kan takes any of them as ``base_activation=``; pykan offers silu and identity).
BASE_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": partial(F.gelu, approximate="tanh"),
    "identity": lambda x: x,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
    "celu": F.celu,
    "softplus": F.softplus,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


DEFAULT_ACTIVATION = "silu"  # a file whose header names no base activation was written when SiLU was the only kind


def check_base_activation(name: object) -> str:
    """Return ``name`` if it is a key of BASE_ACTIVATIONS, else raise ValueError listing them."""
    if not isinstance(name, str) or name not in BASE_ACTIVATIONS:
        raise ValueError(f"unknown base activation {name!r}; choose one of {', '.join(BASE_ACTIVATIONS)}")
    return name


@dataclass(frozen=True)
class KANConfig:
    """Architecture of a uniform-grid KAN: layer widths, grid size G, spline order k and the base activation."""

    widths: tuple[int, ...]
    grid_size: int = 10
    spline_order: int = 3
    grid_range: tuple[float, float] = (-1.0, 1.0)
    base_activation: str = "silu"

    def __post_init__(self) -> None:
        check_base_activation(self.base_activation)


class KANLayer(nn.Module):
    """One KAN layer: y_j = s_j * sum_i [w_ji b(x_i) + r_ji sum_d c_jid B_d(x_i)] + b_j, b = SiLU by default."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 10,
                 spline_order: int = 3, grid_range: tuple[float, float] = (-1.0, 1.0),
                 base_activation: str = "silu"):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.grid_size = grid_size
        self.spline_order = spline_order
        self.base_activation = check_base_activation(base_activation)
        coeffs = grid_size + spline_order
        self.register_buffer("grid", uniform_grid(in_features, grid_size, spline_order, grid_range))
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.empty(out_features, in_features, coeffs))
        self.spline_scaler = nn.Parameter(torch.ones(out_features, in_features))
        self.output_scale = nn.Parameter(torch.ones(out_features))
        self.output_bias = nn.Parameter(torch.zeros(out_features))
        nn.init.kaiming_uniform_(self.base_weight, a=5 ** 0.5)
        nn.init.normal_(self.spline_weight, std=0.1 / (in_features ** 0.5))

    @property
    def num_coefficients(self) -> int:
        """Coefficients per edge, D = G + k."""
        return self.spline_weight.shape[-1]

    def scaled_spline_weight(self) -> torch.Tensor:
        """Return the effective coefficients r_ji * c_ji, shape (out, in, D)."""
        return self.spline_weight * self.spline_scaler.unsqueeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, in) to (batch, out)."""
        base = F.linear(BASE_ACTIVATIONS[self.base_activation](x), self.base_weight)
        basis = bspline_basis(x, self.grid, self.spline_order)
        spline = F.linear(basis.reshape(x.shape[0], -1),
                          self.scaled_spline_weight().reshape(self.out_features, -1))
        return (base + spline) * self.output_scale + self.output_bias


class KAN(nn.Module):
    """A stack of KAN layers."""

    def __init__(self, config: KANConfig):
        super().__init__()
        self.config = config
        widths = config.widths
        self.layers = nn.ModuleList(
            KANLayer(i, o, config.grid_size, config.spline_order, config.grid_range, config.base_activation)
            for i, o in zip(widths[:-1], widths[1:])
        )

    @property
    def num_edges(self) -> int:
        """Total number of spline edges."""
        return sum(layer.in_features * layer.out_features for layer in self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, widths[0]) to (batch, widths[-1])."""
        for layer in self.layers:
            x = layer(x)
        return x
