"""GPTQ for KAN layers: round one weight column at a time, pushing its error onto the columns not yet rounded.

Given its inputs, a KAN layer's output is linear in W = [base_weight (out, in) | coefficients
(out, in * D)] against the features f = [act(x) (in), b(x) (in * D)] (act: the base activation): y = W f (before the output
affine). So the output error of a rounded W is (W - Q) H (W - Q)^T with H = E[f f^T] over
calibration inputs, the Hessian GPTQ (Frantar et al., 2022) minimises greedily: after rounding
column c, the remaining columns absorb its error through the upper Cholesky factor U of H^-1
(U^T U = H^-1): W[:, c+1:] -= (w_c - q_c) / U[c, c] * U[c, c+1:].

The levels stay those of round-to-nearest (``methods.uniform``: one affine pair per output row of
the base weights, and per output channel or per group of G edges), fixed from the
unrounded weights, so the file layout and its bytes are exactly those of UniformConfig.
Written here because no maintained library quantizes against a caller-supplied Hessian with
our storage layout (GPTQ libraries hook nn.Linear modules of transformer models).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ...errors import SharekanError
from ...model import KAN, KANLayer
from ...progress import Progress, silent
from ..layer_statistics import feature_moment, layer_inputs
from ..compressed import CompressedKAN
from ..method_configs import GPTQConfig, per_edge_bits
from ..packing import pack_bits
from ..quantize import QuantizedTensor
from ..registry import register_handler
from .uniform import layer_weights, per_edge_layer, round_to_nearest

BLOCK = 128  # columns rounded before one lazy update of the rest (GPTQ's batching; same result)




@register_handler(GPTQConfig)
def compress_gptq(model: KAN, config: GPTQConfig, *, calibration: np.ndarray | None = None,
                  progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Quantize every layer with GPTQ against its feature Hessian on ``calibration`` (N, in_features)."""
    if calibration is None:
        raise SharekanError("GPTQ needs calibration inputs (an (N, in_features) sample of model inputs)")
    report = progress or silent
    inputs = layer_inputs(model, calibration)
    layers = []
    for index, (layer, x) in enumerate(zip(model.layers, inputs)):
        report(index / len(model.layers), f"GPTQ on layer {index}")
        layers.append(per_edge_layer(layer, *gptq_layer(layer, feature_moment(layer, x), config)))
    report(1.0, "done")
    return CompressedKAN([], layers, config, dict(metadata or {}), model.config.base_activation)


def gptq_layer(layer: KANLayer, hessian: np.ndarray, config: GPTQConfig) -> tuple[QuantizedTensor, QuantizedTensor]:
    """(coefficients, base weights) of one layer rounded by GPTQ on the levels of round-to-nearest."""
    coefficients, base = layer_weights(layer)
    stored, base_q = round_to_nearest(layer, config.bits, config.group_size, config.base_bits)
    weights = np.concatenate([base, coefficients], axis=1)             # (out, in * (D + 1))
    minimum = np.concatenate([_column_levels(base_q.minimum, base.shape), _column_levels(stored.minimum, coefficients.shape)], 1)
    step = np.concatenate([_column_levels(base_q.step, base.shape), _column_levels(stored.step, coefficients.shape)], 1)
    levels = np.concatenate([np.full(base.shape[1], (1 << base_q.bits) - 1),
                             np.full(coefficients.shape[1], (1 << stored.bits) - 1)])
    codes = gptq_codes(weights, hessian, minimum, step, levels, config.damping)
    width = base.shape[1]
    return (replace(stored, payload=pack_bits(codes[:, width:], stored.bits)),
            replace(base_q, payload=pack_bits(codes[:, :width], base_q.bits)))


def _column_levels(per_row: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Spread one affine parameter per stored row (an output, or a group of G columns) over (out, cols)."""
    rows, cols = shape
    groups_per_row = per_row.size // rows
    return np.repeat(per_row.reshape(rows, groups_per_row), cols // groups_per_row, axis=1).astype(np.float64)


def inverse_cholesky_upper(hessian: torch.Tensor) -> torch.Tensor:
    """Upper-triangular U with U^T U = H^-1, without forming H^-1.

    With J the order-reversing permutation, V = J chol(J H J) J is upper triangular with H = V V^T,
    so H^-1 = V^-T V^-1 and U = V^-1: one Cholesky and one triangular inverse instead of a Cholesky,
    an inverse and a second Cholesky.
    """
    factor = torch.linalg.cholesky(hessian.flip(0, 1)).flip(0, 1)
    identity = torch.eye(hessian.shape[0], dtype=hessian.dtype)
    return torch.linalg.solve_triangular(factor, identity, upper=True)


def gptq_codes(weights: np.ndarray, hessian: np.ndarray, minimum: np.ndarray, step: np.ndarray,
               levels: np.ndarray, damping: float) -> np.ndarray:
    """Integer codes (rows, cols) for ``weights`` on the levels minimum + code * step, by GPTQ under ``hessian``."""
    w = torch.from_numpy(np.array(weights, dtype=np.float64))
    h = torch.from_numpy(np.array(hessian, dtype=np.float64))
    dead = torch.diagonal(h) <= 0
    h[dead, dead] = 1.0  # a feature never seen: its column is rounded alone and passes nothing on
    h += damping * torch.diagonal(h).mean() * torch.eye(h.shape[0], dtype=h.dtype)
    upper = inverse_cholesky_upper(h)
    low, width = torch.from_numpy(minimum), torch.from_numpy(step)
    safe = torch.where(width > 0, width, torch.ones_like(width))
    top = torch.from_numpy(levels.astype(np.float64))
    codes = torch.zeros(w.shape, dtype=torch.int64)
    cols = w.shape[1]
    for start in range(0, cols, BLOCK):
        stop = min(start + BLOCK, cols)
        block = w[:, start:stop].clone()
        errors = torch.zeros_like(block)
        for offset in range(stop - start):
            c = start + offset
            column = block[:, offset]
            code = torch.clamp(torch.round((column - low[:, c]) / safe[:, c]), 0, top[c])
            error = (column - (low[:, c] + code * width[:, c])) / upper[c, c]
            block[:, offset:] -= error[:, None] * upper[c, c:stop][None, :]
            errors[:, offset] = error
            codes[:, c] = code.to(torch.int64)
        w[:, stop:] -= errors @ upper[start:stop, stop:]
    return codes.numpy()
