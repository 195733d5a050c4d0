"""One compression run with everything measured about it, and its JSON report."""
from __future__ import annotations

from dataclasses import dataclass

from .compress import CompressedKAN, CompressionConfig, compress, decompress
from .compress.compressor import Progress
from .format import StorageReport, storage_report
from .format.compressed_file import encode_compressed
from .metrics import FidelityReport, fidelity_report
from .model import KAN


@dataclass(frozen=True)
class CompressionResult:
    """The compressed model, its dense reconstruction, storage accounting, fidelity and file bytes."""

    compressed: CompressedKAN
    reconstructed: KAN
    storage: StorageReport
    fidelity: FidelityReport
    encoded: bytes

    @property
    def file_bytes(self) -> int:
        """Size of the compressed file: its encoded bytes."""
        return len(self.encoded)

    def report(self) -> dict:
        """JSON-ready summary; top-level keys are a stable contract for scripts."""
        layers = []
        for index, fid in enumerate(self.fidelity.layers):
            layer = self.compressed.layers[index]
            row = self.storage.compressed[str(index)]
            layers.append({
                "layer": index,
                "shape": [layer.out_features, layer.in_features],
                "edges": layer.num_edges,
                "codebook_id": layer.codebook_id,
                "codebook_size": int(self.compressed.codebooks[layer.codebook_id].shape[0]),
                "index_bits": self.compressed.index_bits(layer.codebook_id),
                "dense_bytes": sum(self.storage.dense[str(index)].values()),
                "compressed_bytes": sum(row.values()),
                "components": row,
                "coef_r2": fid.coef_r2,
                "coef_rel_l2": fid.coef_rel_l2,
                "function_rel_rms": fid.function_rel_rms,
                "base_weight_rel_l2": fid.base_weight_rel_l2,
            })
        config = self.compressed.config
        return {
            "dense_bytes": self.storage.dense_bytes,
            "compressed_bytes": self.storage.compressed_bytes,
            "file_bytes": self.file_bytes,
            "header_bytes": self.file_bytes - self.storage.compressed_bytes,
            "ratio": self.storage.ratio,
            "coef_rel_l2": self.fidelity.coef_rel_l2,
            "function_rel_rms": self.fidelity.function_rel_rms,
            "components": self.storage.by_component(),
            "shared_codebook_bytes": sum(self.storage.compressed.get("shared", {}).values()),
            "config": {"codebook_size": config.codebook_size, "bits": config.component_bits(),
                       "scope": config.scope, "seed": config.seed, "weighted": config.weighted,
                       "refit_gain": config.refit_gain},
            "layers": layers,
        }


def compress_and_measure(model: KAN, config: CompressionConfig, progress: Progress | None = None,
                         metadata: dict | None = None) -> CompressionResult:
    """Compress ``model``, encode the file bytes, and measure storage and fidelity."""
    compressed = compress(model, config, progress, metadata)
    encoded = encode_compressed(compressed)
    reconstructed = decompress(compressed)
    return CompressionResult(compressed, reconstructed, storage_report(model, compressed),
                             fidelity_report(model, reconstructed), encoded)
