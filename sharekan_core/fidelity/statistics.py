"""Per-layer statistics of spline coefficients: scale, tails and support."""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..model import KAN


def coefficient_statistics(model: KAN) -> list[dict]:
    """Per layer: edges, mean, std, excess kurtosis, min/max of effective coefficients, gain spread, grid range."""
    rows = []
    for index, layer in enumerate(model.layers):
        coefficients = layer.scaled_spline_weight().detach().double().numpy()
        flat = coefficients.reshape(-1)
        centred = coefficients - coefficients.mean(axis=-1, keepdims=True)
        gains = np.linalg.norm(centred, axis=-1).reshape(-1)
        grid = layer.grid.detach().numpy()
        order = layer.spline_order
        rows.append({
            "layer": index,
            "edges": layer.in_features * layer.out_features,
            "shape": [layer.out_features, layer.in_features, layer.num_coefficients],
            "mean": float(flat.mean()),
            "std": float(flat.std()),
            "kurtosis": float(stats.kurtosis(flat)) if flat.std() > 0 else 0.0,
            "min": float(flat.min()),
            "max": float(flat.max()),
            "abs_p99": float(np.quantile(np.abs(flat), 0.99)),
            "gain_median": float(np.median(gains)),
            "gain_p99": float(np.quantile(gains, 0.99)),
            "grid_min": float(grid[:, order].min()),
            "grid_max": float(grid[:, -order - 1].max()),
        })
    return rows
