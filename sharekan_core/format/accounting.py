"""Exact storage accounting: bytes per layer and component, dense FP32 against compressed."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..compression.compressed import CompressedKAN
from ..compression.packing import FP32, total_bytes
from ..model import KAN
from .compressed_file import stored_tensors

COMPONENTS = ("codebook", "indices", "gains", "biases", "coefficients", "mask", "base_weights", "scales", "grids")
DENSE_COMPONENTS = ("splines", "base_weights", "scales", "grids")


@dataclass(frozen=True)
class StorageReport:
    """Dense and compressed bytes per layer and component; 'shared' rows hold a global codebook."""

    dense: dict[str, dict[str, int]]       # layer label -> dense component -> bytes
    compressed: dict[str, dict[str, int]]  # layer label -> component -> bytes

    @property
    def dense_bytes(self) -> int:
        """Total FP32 bytes of the dense model."""
        return total_bytes(self.dense)

    @property
    def compressed_bytes(self) -> int:
        """Total bytes of the compressed tensors (equals the file's payload)."""
        return total_bytes(self.compressed)

    @property
    def ratio(self) -> float:
        """Dense bytes / compressed bytes, as the paper reports it."""
        return self.dense_bytes / self.compressed_bytes

    def by_component(self) -> dict[str, int]:
        """Compressed bytes summed over layers, per component."""
        totals = dict.fromkeys(COMPONENTS, 0)
        for row in self.compressed.values():
            for component, size in row.items():
                totals[component] += size
        return totals


def dense_storage(model: KAN) -> dict[str, dict[str, int]]:
    """FP32 bytes per layer: spline coefficients, base weights, scales (scaler + output affine), grids."""
    rows = {}
    for index, layer in enumerate(model.layers):
        edges = layer.in_features * layer.out_features
        rows[str(index)] = {
            "splines": edges * layer.num_coefficients * FP32,
            "base_weights": edges * FP32,
            "scales": (edges + 2 * layer.out_features) * FP32,
            "grids": layer.grid.numel() * FP32,
        }
    return rows


def dense_edge_bytes(coefficients: int) -> int:
    """FP32 bytes one edge owns in the dense model, as ``dense_storage`` counts them: its ``coefficients`` spline
    coefficients, its base weight and its spline scaler."""
    return (coefficients + 2) * FP32


def dense_bytes(model: KAN) -> int:
    """Total FP32 bytes of the dense ``model``."""
    return total_bytes(dense_storage(model))


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


def storage_report(model: KAN, compressed: CompressedKAN) -> StorageReport:
    """Account every stored tensor of ``compressed`` against the dense ``model``."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COMPONENTS, 0))
    for tensor in stored_tensors(compressed):
        label = "shared" if tensor.layer is None else str(tensor.layer)
        rows[label][tensor.component] += int(tensor.array.nbytes)
    return StorageReport(dense_storage(model), dict(rows))
