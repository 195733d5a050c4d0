"""What a dense KAN is, in numbers: widths, edges per layer, grid, spline order and its dense FP32 bytes
(the CLI's ``info`` and the studio's Model page show it)."""
from __future__ import annotations

from .compression.packing import total_bytes
from .format.accounting import dense_storage
from .model import KAN


def model_summary(model: KAN) -> dict:
    """Widths, per-layer edges and dense bytes, grid, spline order and dense FP32 bytes of ``model``."""
    dense = dense_storage(model)
    first = model.layers[0]
    return {
        "widths": [first.in_features, *(layer.out_features for layer in model.layers)],
        "layers": [{"layer": i, "in": layer.in_features, "out": layer.out_features,
                    "edges": layer.in_features * layer.out_features, "dense_bytes": sum(dense[str(i)].values())}
                   for i, layer in enumerate(model.layers)],
        "edges": model.num_edges,
        "grid_size": first.grid_size,
        "spline_order": first.spline_order,
        "coefficients_per_edge": first.num_coefficients,
        "dense_bytes": total_bytes(dense),
    }
