"""Layer statistics on calibration inputs: what each layer of the dense model sees on a sample of model inputs.

Shapes (N calibration rows, per layer: in inputs, D = G + k bases):
    inputs        (N, in)        float32, the layer's inputs when the dense model runs the sample
    moments       (in, D, D)     float64, H_i = E[b(x_i) b(x_i)^T], the basis second moment of input i
    feature moment (in * (D + 1), in * (D + 1))  E[f f^T] of f = [act(x), b(x)], for GPTQ (act: the base activation)
Bases are zero outside the grid, so inputs that leave it simply add nothing to H_i.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import SharekanError
from ..model import KAN, KANLayer, bspline_basis
from ..model.kan import BASE_ACTIVATIONS

CHUNK_ROWS = 4096  # calibration rows per forward chunk: bounds the (rows, in, D) bases in memory


def check_calibration(model: KAN, calibration: np.ndarray) -> np.ndarray:
    """Return ``calibration`` as float32 (N, in_features), or raise SharekanError naming the problem."""
    values = np.asarray(calibration)
    in_features = model.layers[0].in_features
    if values.ndim != 2 or values.shape[1] != in_features or values.shape[0] == 0:
        raise SharekanError(f"calibration must be a non-empty (N, {in_features}) array, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.number):
        raise SharekanError(f"calibration must be numeric, got dtype {values.dtype}")
    values = values.astype(np.float32)
    if not np.isfinite(values).all():
        raise SharekanError("calibration contains NaN or Inf values")
    return values


def layer_inputs(model: KAN, calibration: np.ndarray) -> list[np.ndarray]:
    """Run the dense model on the calibration sample; return each layer's inputs, (N, in) float32."""
    x = torch.from_numpy(check_calibration(model, calibration))
    inputs = []
    with torch.no_grad():
        for layer in model.layers:
            inputs.append(x.numpy().copy())
            x = torch.cat([layer(part) for part in x.split(CHUNK_ROWS)])
    return inputs


def basis_moments(layer: KANLayer, inputs: np.ndarray) -> np.ndarray:
    """H_i = E[b(x_i) b(x_i)^T] for every input i of ``layer``: (in, D, D) float64."""
    total = np.zeros((layer.in_features, layer.num_coefficients, layer.num_coefficients))
    with torch.no_grad():
        for part in torch.from_numpy(inputs).split(CHUNK_ROWS):
            bases = bspline_basis(part, layer.grid, layer.spline_order).to(torch.float64)
            total += torch.einsum("nid,nie->ide", bases, bases).numpy()
    return total / len(inputs)


def feature_moment(layer: KANLayer, inputs: np.ndarray) -> np.ndarray:
    """E[f f^T] of the features f = [act(x) (in), b(x) (in * D)] the layer's weights multiply (float64).

    The layer's output is linear in [base_weight, coefficients] given f, so this is the Hessian
    of its squared output error: what GPTQ needs.
    """
    width = layer.in_features * (layer.num_coefficients + 1)
    total = np.zeros((width, width))
    with torch.no_grad():
        for part in torch.from_numpy(inputs).split(CHUNK_ROWS):
            bases = bspline_basis(part, layer.grid, layer.spline_order).reshape(len(part), -1)
            features = torch.cat([BASE_ACTIVATIONS[layer.base_activation](part), bases], dim=1)
            total += (features.t() @ features).to(torch.float64).numpy()
    return total / len(inputs)
