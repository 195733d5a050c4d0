"""A reference for 1ssb/torchkan's ``KAN`` (torchkan.py), written from its published math and parameter layout (the
library is GitHub-only): the same state-dict names (base_weights.N, spline_weights.N, layer_norms.N, prelus.N,
grid_N; its earlier version's spline_scalers.N without PReLUs) and the same forward, layer by layer:

    x = prelu_N(layer_norm_N(W_b act(x) + sum_i sum_d C[o, i, d] B_d(x_i)))

with B_d the Cox-de Boor B-splines of order k on G uniform cells of the grid range, extended by k cells each side.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cox_de_boor(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """B-spline bases of ``order`` at x (B, in) on per-input knots (in, n): (B, in, n - order - 1)."""
    t = x.unsqueeze(-1)
    bases = ((t >= knots[:, :-1]) & (t < knots[:, 1:])).to(x.dtype)
    for p in range(1, order + 1):
        rising = (t - knots[:, :-(p + 1)]) / (knots[:, p:-1] - knots[:, :-(p + 1)])
        falling = (knots[:, p + 1:] - t) / (knots[:, p + 1:] - knots[:, 1:-p])
        bases = rising * bases[..., :-1] + falling * bases[..., 1:]
    return bases


class TorchKAN(nn.Module):
    """torchkan's KAN over ``widths``; ``spline_scalers=True`` is its earlier version (per-edge scales, no PReLU)."""

    def __init__(self, widths: list[int], grid_size: int = 5, spline_order: int = 3,
                 base_activation: type[nn.Module] = nn.GELU, grid_range: tuple[float, float] = (-1.0, 1.0),
                 spline_scalers: bool = False):
        super().__init__()
        self.grid_size, self.spline_order = grid_size, spline_order
        self.base_activation = base_activation()
        self.base_weights, self.spline_weights = nn.ParameterList(), nn.ParameterList()
        self.layer_norms = nn.ModuleList()
        if spline_scalers:
            self.spline_scalers = nn.ParameterList()
        else:
            self.prelus = nn.ModuleList()
        cell = (grid_range[1] - grid_range[0]) / grid_size
        for index, (inputs, outputs) in enumerate(zip(widths[:-1], widths[1:])):
            self.base_weights.append(nn.Parameter(torch.empty(outputs, inputs)))
            self.spline_weights.append(nn.Parameter(torch.empty(outputs, inputs, grid_size + spline_order)))
            self.layer_norms.append(nn.LayerNorm(outputs))
            if spline_scalers:
                self.spline_scalers.append(nn.Parameter(torch.empty(outputs, inputs)))
            else:
                self.prelus.append(nn.PReLU())
            knots = torch.linspace(grid_range[0] - spline_order * cell, grid_range[1] + spline_order * cell,
                                   grid_size + 2 * spline_order + 1)
            self.register_buffer(f"grid_{index}", knots.expand(inputs, -1).contiguous())
        for weight in self.parameters():
            if weight.dim() >= 2:
                nn.init.kaiming_uniform_(weight, nonlinearity="linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, (base_weight, spline_weight) in enumerate(zip(self.base_weights, self.spline_weights)):
            base = F.linear(self.base_activation(x), base_weight)
            bases = cox_de_boor(x, getattr(self, f"grid_{index}"), self.spline_order)
            if hasattr(self, "spline_scalers"):
                spline_weight = spline_weight * self.spline_scalers[index].unsqueeze(-1)
            spline = F.linear(bases.reshape(x.shape[0], -1), spline_weight.reshape(spline_weight.shape[0], -1))
            x = self.layer_norms[index](base + spline)
            if hasattr(self, "prelus"):
                x = self.prelus[index](x)
        return x
