"""One compression run with everything measured about it, and its JSON report."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .compression import CompressedKAN, CompressionConfig, MethodConfig, compress, decompress
from .format import StorageReport, storage_report
from .format.compressed_file import encode_compressed
from .fidelity import FidelityReport, fidelity_report
from .model import KAN
from .progress import Progress


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
                "codebook_size": None if layer.codebook_id is None else int(self.compressed.codebooks[layer.codebook_id].shape[0]),
                "index_bits": None if layer.codebook_id is None else self.compressed.index_bits(layer.codebook_id),
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
            "method": self.compressed.method,
            "config": config_summary(config),
            "layers": layers,
        }


def config_summary(config: MethodConfig) -> dict:
    """The config's fields for a JSON report; SHARe-KAN's ``bits`` as the effective bits per component."""
    fields = asdict(config)
    if isinstance(config, CompressionConfig):
        fields["bits"] = config.component_bits()
        if config.layer_bits is not None:
            fields["bits_per_layer"] = [config.component_bits(i) for i in range(len(config.layer_bits))]
    return fields


def compress_and_measure(model: KAN, config: MethodConfig, progress: Progress | None = None,
                         metadata: dict | None = None, calibration: np.ndarray | None = None) -> CompressionResult:
    """Compress ``model`` (with optional calibration inputs), encode the file bytes, and measure storage and fidelity."""
    return measure_compressed(model, compress(model, config, calibration, progress=progress, metadata=metadata))


def measure_compressed(model: KAN, compressed: CompressedKAN) -> CompressionResult:
    """Encode ``compressed`` and measure its storage and fidelity against the dense ``model``."""
    encoded = encode_compressed(compressed)
    reconstructed = decompress(compressed)
    return CompressionResult(compressed, reconstructed, storage_report(model, compressed),
                             fidelity_report(model, reconstructed), encoded)


@dataclass(frozen=True)
class BasisCompressionResult:
    """One compression of a FastKAN, ChebyKAN, Gram or torchkan net: the compressed net, its report
    (``basis_kan_report`` plus ``file_bytes``) and the compressed file's bytes."""

    compressed: object  # compression.basis_net.CompressedBasisKAN
    report: dict
    encoded: bytes


def compress_basis_and_measure(loaded: object, config: CompressionConfig, calibration: np.ndarray | None = None,
                               source: str | None = None) -> BasisCompressionResult:
    """Compress the BasisKAN of ``loaded`` (an ``io.LoadedModel``) layer by layer, recording where it came from
    (``source``, its prefix and how its layers were kept, for ``decompress --layout native``), encode the file
    and measure storage and coefficient error."""
    from .compression.basis_net import basis_kan_report, compress_basis_kan
    from .format.basis_net_file import encode_basis_kan
    from .io.basis_net import CONTAINER

    metadata = {**loaded.metadata, **({"source": source} if source else {}),
                **({"prefix": loaded.prefix} if loaded.prefix else {}), CONTAINER: loaded.container}
    compressed = compress_basis_kan(loaded.model, config, calibration, metadata)
    encoded = encode_basis_kan(compressed)
    return BasisCompressionResult(compressed, {**basis_kan_report(loaded.model, compressed), "file_bytes": len(encoded)},
                                  encoded)
