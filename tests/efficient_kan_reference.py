"""A small efficient-kan reference, written from its published math and parameter names (not its code).

efficient-kan (Blealtan/efficient-kan, GitHub only) defines ``KANLinear`` with the buffer ``grid`` (in, G + 2k + 1)
and the parameters ``base_weight`` (out, in), ``spline_weight`` (out, in, G + k) and, with its standalone scaler,
``spline_scaler`` (out, in); its forward is

    y = base_weight @ base_activation(x) + (spline_weight * spline_scaler[..., None]) . B(x)

with B the order-k B-spline bases on the grid, and ``base_activation`` any torch activation class (SiLU by
default). ``KAN`` chains such layers in ``self.layers``. The importer is held to this module's outputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def reference_bases(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """B-spline bases by the Cox-de Boor recursion, one knot vector per input: (N, in) -> (N, in, G + k)."""
    x = x[:, :, None]
    t = knots[None, :, :]
    degree0 = torch.logical_and(t[:, :, :-1] <= x, x < t[:, :, 1:]).to(x.dtype)
    bases = degree0
    for p in range(1, order + 1):
        rising = (x - t[:, :, : -p - 1]) / (t[:, :, p:-1] - t[:, :, : -p - 1])
        falling = (t[:, :, p + 1:] - x) / (t[:, :, p + 1:] - t[:, :, 1:-p])
        bases = rising * bases[:, :, :-1] + falling * bases[:, :, 1:]
    return bases


class ReferenceKANLinear(nn.Module):
    """efficient-kan's ``KANLinear`` as its README and paper describe it (uniform grid on ``grid_range``)."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, spline_order: int = 3,
                 base_activation: type[nn.Module] = nn.SiLU, grid_range: tuple[float, float] = (-1.0, 1.0),
                 standalone_scaler: bool = True):
        super().__init__()
        self.spline_order = spline_order
        step = (grid_range[1] - grid_range[0]) / grid_size
        knots = torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.float32) * step + grid_range[0]
        self.register_buffer("grid", knots.expand(in_features, -1).contiguous())
        self.base_weight = nn.Parameter(torch.randn(out_features, in_features) / in_features ** 0.5)
        self.spline_weight = nn.Parameter(torch.randn(out_features, in_features, grid_size + spline_order) * 0.1)
        if standalone_scaler:
            self.spline_scaler = nn.Parameter(torch.ones(out_features, in_features))
        self.base_activation = base_activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.spline_weight
        if hasattr(self, "spline_scaler"):
            weight = weight * self.spline_scaler[:, :, None]
        bases = reference_bases(x, self.grid, self.spline_order)
        spline = torch.einsum("nid,oid->no", bases, weight)
        return F.linear(self.base_activation(x), self.base_weight) + spline


class ReferenceKAN(nn.Module):
    """efficient-kan's ``KAN``: ``ReferenceKANLinear`` layers in ``self.layers``."""

    def __init__(self, widths: list[int], **layer_options):
        super().__init__()
        self.layers = nn.ModuleList(ReferenceKANLinear(i, o, **layer_options) for i, o in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def train(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, steps: int = 60, seed: int = 0) -> nn.Module:
    """Fit ``model`` to a classification set with full-batch Adam (a few dozen steps: a real, if short, training)."""
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        optimiser.zero_grad()
        F.cross_entropy(model(inputs), labels).backward()
        optimiser.step()
    return model.eval()
