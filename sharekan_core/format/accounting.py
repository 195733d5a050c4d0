"""Storage accounting, the one home of byte counts: exact (per stored tensor) and closed form (from shapes).

Exact: ``storage_report`` counts every tensor a compressed file stores, per layer and component, against
the dense FP32 model (``dense_storage``). Closed form: ``sharekan_bytes`` and ``kmeans_bytes`` predict the
stored tensors' bytes from the shapes and the configuration alone, without clustering; they equal the
exact count whenever each codebook keeps the rows assumed (min(K, edges), or the ``kept`` given).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..compression.compressed import CompressedKAN
from ..compression.config import CompressionConfig
from ..compression.method_configs import KMeansConfig
from ..compression.packing import FP32, index_bits, packed_nbytes, total_bytes
from ..compression.quantize import quantized_nbytes
from ..model import KAN, KANLayer
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


def storage_report(model: KAN, compressed: CompressedKAN) -> StorageReport:
    """Account every stored tensor of ``compressed`` against the dense ``model``."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COMPONENTS, 0))
    for tensor in stored_tensors(compressed):
        label = "shared" if tensor.layer is None else str(tensor.layer)
        rows[label][tensor.component] += int(tensor.array.nbytes)
    return StorageReport(dense_storage(model), dict(rows))


def frame_bytes(layer: KANLayer) -> int:
    """FP32 bytes every compressed layer stores whatever the method: output scale and bias, and the knots."""
    return (2 * layer.out_features + layer.grid.numel()) * FP32


def sharekan_bytes(model: KAN, config: CompressionConfig, kept: list[int] | None = None) -> int:
    """Closed-form bytes of SHARe-KAN's stored tensors (header excluded), from the shapes alone.

    Each codebook (one per layer, or one shared, by ``config.scope``) is taken to keep min(K, its edges)
    rows, or ``kept[i]`` when given. Clustering can keep fewer (too few distinct shapes), so the exact
    payload is at most this prediction, and equal to it when the codebooks keep those rows.
    """
    config.check_layers(len(model.layers))
    layers = model.layers
    groups = [[i] for i in range(len(layers))] if config.scope == "layer" else [list(range(len(layers)))]
    total = 0
    for group, members in enumerate(groups):
        edges = sum(layers[i].in_features * layers[i].out_features for i in members)
        size = kept[group] if kept is not None else min(config.codebook_size, edges)
        coefficients = layers[members[0]].num_coefficients
        codebook_bits = config.component_bits(members[0] if config.scope == "layer" else None)["codebook"]
        total += quantized_nbytes(size * coefficients, coefficients, codebook_bits)  # one (min, step) per column
        for i in members:
            layer, bits = layers[i], config.component_bits(i)
            count, rows = layer.in_features * layer.out_features, layer.out_features
            total += packed_nbytes(count, index_bits(size))
            total += sum(quantized_nbytes(count, rows, bits[name]) for name in ("gains", "biases", "base_weights"))
            total += frame_bytes(layer)
    return total


def kmeans_bytes(model: KAN, config: KMeansConfig) -> int:
    """Closed-form bytes of per-layer k-means (codebook, indices, base weights), assuming min(K, edges) rows."""
    total = 0
    for layer in model.layers:
        edges, rows, width = layer.in_features * layer.out_features, layer.out_features, layer.num_coefficients
        size = min(config.codebook_size, edges)
        total += quantized_nbytes(size * width, width, config.bits) + packed_nbytes(edges, index_bits(size))
        total += quantized_nbytes(edges, rows, config.bits) + frame_bytes(layer)
    return total


def pruned_bytes(model: KAN, kept: list[int], bits: int = 32) -> int:
    """Closed-form bytes of magnitude pruning's stored tensors: ``kept[i]`` edges of layer i (coefficients
    with the scaler folded in, one affine pair per edge below 16 bits; base weights), an edge bitmap, the frame."""
    total = 0
    for layer, count in zip(model.layers, kept):
        total += quantized_nbytes(count * layer.num_coefficients, count, bits) + quantized_nbytes(count, 1, bits)
        total += packed_nbytes(layer.in_features * layer.out_features, 1) + frame_bytes(layer)
    return total
