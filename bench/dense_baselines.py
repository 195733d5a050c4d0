"""The dense baselines the runtime benchmark names: pre-scaled eager, and the local-support numba kernel.

``efficient-kan eager`` is ``KAN.forward`` itself (it rescales the spline weights every call).
``PreScaledKAN`` scales them once, the strongest eager dense forward. ``DenseKernelKAN`` runs
the dense head through the same per-input tables and loop order as the fused compressed kernel.
"""
from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange


from sharekan_core.model import KAN, bspline_basis
from sharekan_core.runtime.fused_kernel import LAUNCH_LOCK, input_tables


class PreScaledKAN(torch.nn.Module):
    """A dense KAN with spline weights pre-scaled once: (B, in) -> (B, out) in eager PyTorch."""

    def __init__(self, model: KAN):
        super().__init__()
        self.parts = [(layer.grid.detach().clone(), layer.spline_order, layer.base_weight.detach().clone(),
                       layer.scaled_spline_weight().detach().reshape(layer.out_features, -1).contiguous(),
                       layer.output_scale.detach().clone(), layer.output_bias.detach().clone())
                      for layer in model.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in) to (B, out)."""
        for grid, order, base, spline, scale, bias in self.parts:
            basis = bspline_basis(x, grid, order).reshape(x.shape[0], -1)
            x = (F.linear(F.silu(x), base) + F.linear(basis, spline)) * scale + bias
        return x


# Loop order: output j (prange) -> input i -> row b -> k + 1 taps, as the fused gather kernel.
# Per edge it streams the pre-scaled coefficient row (D float32 = 52 B at D = 13: the k + 1 taps
# touch whole cache lines of it) and the base weight (4 B), once per call; the (in, B) tables are
# the fused kernel's. One thread per output row: results do not depend on the thread count.
@njit(parallel=True, cache=True)
def dense_kernel(coefficients, base_weights, start, weights, silu, output_scale, output_bias, out_t):
    """out_t (out, B) <- the dense layer's outputs from coefficients (out, in, D) and base weights (out, in)."""
    n_out, n_in, _ = coefficients.shape
    batch = start.shape[1]
    taps = weights.shape[2]
    for j in prange(n_out):
        for b in range(batch):
            out_t[j, b] = 0.0
        for i in range(n_in):
            base = base_weights[j, i]
            for b in range(batch):
                position = start[i, b]
                total = base * silu[i, b]
                for t in range(taps):
                    total += weights[i, b, t] * coefficients[j, i, position + t]
                out_t[j, b] += total
        for b in range(batch):
            out_t[j, b] = out_t[j, b] * output_scale[j] + output_bias[j]


class DenseKernelKAN:
    """The dense head through ``dense_kernel``: ``model(x)`` maps (B, in) float32 to (B, out)."""

    def __init__(self, model: KAN):
        self.layers = [(layer.grid.detach().double().numpy(), layer.spline_order,
                        layer.scaled_spline_weight().detach().float().numpy().copy(),
                        layer.base_weight.detach().float().numpy().copy(),
                        layer.output_scale.detach().float().numpy().copy(),
                        layer.output_bias.detach().float().numpy().copy()) for layer in model.layers]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Map (B, in) to (B, out)."""
        xt = np.ascontiguousarray(np.asarray(x, np.float32).T)
        with LAUNCH_LOCK:
            for grid, order, coefficients, base, scale, bias in self.layers:
                width, batch = xt.shape
                num_bases = coefficients.shape[2]
                start = np.empty((width, batch), np.int64)
                weights = np.empty((width, batch, order + 1), np.float32)
                offset, basis_sum, silu = (np.empty((width, batch), np.float32) for _ in range(3))
                input_tables(xt, grid, order, np.zeros(num_bases, np.float32), np.ones(num_bases, np.float32),
                             start, weights, offset, basis_sum, silu)
                out_t = np.empty((coefficients.shape[0], batch), np.float32)
                dense_kernel(coefficients, base, start, weights, silu, scale, bias, out_t)
                xt = out_t
        return np.ascontiguousarray(xt.T)
