"""A universal shape codebook: one codebook fitted on the spline shapes of many KANs, applied zero-shot.

Shapes (D = G + k coefficients, the same for every model that uses the codebook):
    codebook  (K, D)  unit-norm, zero-mean shapes, stored Int8 with one affine pair per column

Each source model contributes its live shapes weighted by gain**2, normalised so that every model
carries the same total weight: a 325,000-edge detection head does not drown a 32-edge iris KAN.
A model compressed with it keeps the codebook bit for bit (scope 'global') and only assigns its
edges and refits gains and biases: no clustering on the target.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from safetensors.numpy import save as save_safetensors

from ..compression import CompressionConfig
from ..compression.codebook import ShapeCodebook
from ..compression.compressed import CompressedKAN
from ..compression.compressor import compress_with_codebooks, effective_coefficients
from ..compression.decompose import decompose
from ..compression.quantize import QuantizedTensor, quantize
from ..errors import SharekanError
from ..io import write_bytes_atomic
from ..io.tensors import read_safetensors
from ..model import KAN

FORMAT = "sharekan-universal-codebook"
MAX_ROWS_PER_MODEL = 60_000  # shapes sampled per source model: keeps the fit at a minute on 2 cores


def model_shapes(model: KAN, max_rows: int = MAX_ROWS_PER_MODEL, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(shapes (N, D), gain**2 weights (N,)) of ``model``'s live edges, at most ``max_rows`` sampled."""
    coefficients = np.concatenate([c.reshape(-1, c.shape[-1]) for c in effective_coefficients(model)])
    parts = decompose(coefficients)
    live = np.flatnonzero(parts.gains > 0)
    if len(live) > max_rows:
        live = np.sort(np.random.default_rng(seed).choice(live, max_rows, replace=False))
    return parts.shapes[live].astype(np.float32), (parts.gains[live] ** 2).astype(np.float64)


def fit_universal_codebook(models: Sequence[KAN], size: int = 4096, bits: int = 8, seed: int = 0) -> QuantizedTensor:
    """One (K, D) codebook for all ``models``, each model weighted equally, quantized at ``bits``."""
    shapes, weights = [], []
    for index, model in enumerate(models):
        rows, row_weights = model_shapes(model, seed=seed + index)
        shapes.append(rows)
        weights.append(row_weights / max(row_weights.sum(), 1e-30))
    widths = {rows.shape[1] for rows in shapes}
    if len(widths) != 1:
        raise SharekanError(f"all source models need one coefficient count per edge, found {sorted(widths)}")
    codebook = ShapeCodebook(size, seed=seed).fit(np.concatenate(shapes), weights=np.concatenate(weights).astype(np.float32))
    return quantize(codebook.centroids, bits, "universal codebook", grouping="columns")


def save_universal_codebook(codebook: QuantizedTensor, path: str | Path, sources: list[dict]) -> int:
    """Write the codebook (codes and affine pairs) with its sources as safetensors; return the file size."""
    header = {"format": FORMAT, "bits": codebook.bits, "shape": list(codebook.shape), "sources": sources}
    payload = save_safetensors({"payload": codebook.payload, "minimum": codebook.minimum, "step": codebook.step},
                               metadata={"sharekan": json.dumps(header, sort_keys=True)})
    write_bytes_atomic(path, payload)
    return len(payload)


def load_universal_codebook(path: str | Path) -> QuantizedTensor:
    """Read a codebook written by ``save_universal_codebook``; a clear SharekanError if it is not one."""
    path = Path(path)
    stored, metadata = read_safetensors(path)  # corrupt files raise SharekanError naming the file
    tensors = {name: tensor.numpy() for name, tensor in stored.items()}
    try:
        header = json.loads(metadata["sharekan"])
    except (KeyError, ValueError):
        raise SharekanError(f"{path.name}: not a universal codebook file (no codebook header)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SharekanError(f"{path.name}: not a universal codebook file (format {header.get('format')!r})")
    shape, bits = tuple(header["shape"]), header["bits"]
    if bits not in (4, 8) or len(shape) != 2 or not 1 <= shape[0] <= 65_536 or set(tensors) != {"payload", "minimum", "step"}:
        raise SharekanError(f"{path.name}: unsupported universal codebook (bits {bits}, shape {shape})")
    codebook = QuantizedTensor(bits, shape, tensors["payload"].astype(np.uint8), tensors["minimum"].astype(np.float32),
                               tensors["step"].astype(np.float32), "columns")
    if codebook.payload.size * 8 < shape[0] * shape[1] * bits or codebook.minimum.shape != (shape[1],) \
            or not np.isfinite(codebook.dequantize()).all():
        raise SharekanError(f"{path.name}: universal codebook tensors do not match its header")
    return codebook


def compress_with_universal(model: KAN, codebook: QuantizedTensor, bits: int = 8,
                            calibration: np.ndarray | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Compress ``model`` against ``codebook`` by assignment only (scope 'global', codebook kept bit for bit)."""
    widths = {layer.num_coefficients for layer in model.layers}
    if widths != {codebook.shape[1]}:
        raise SharekanError(f"the universal codebook has {codebook.shape[1]} coefficients per shape, "
                            f"this model's layers have {sorted(widths)}")
    config = CompressionConfig(codebook_size=max(2, codebook.shape[0]), bits=bits, codebook_bits=codebook.bits,
                               scope="global")
    return compress_with_codebooks(model, config, [codebook], calibration, metadata=metadata)


def universal_cost(model: KAN, codebook: QuantizedTensor, bits: int = 8, evaluate=None) -> dict:
    """The universal codebook against the model's own codebook of the same size, scope and bits.

    ``evaluate(module) -> float`` adds the task metric (dense, own codebook, universal codebook).
    """
    from ..compression import compress, decompress
    from ..format import storage_report
    from ..format.accounting import dense_bytes
    from ..fidelity import fidelity_report

    size = codebook.shape[0]
    own = compress(model, CompressionConfig(codebook_size=size, bits=bits, codebook_bits=codebook.bits, scope="global"))
    shared = compress_with_universal(model, codebook, bits)
    row = {"edges": model.num_edges, "dense_bytes": dense_bytes(model)}
    for name, compressed in (("own", own), ("universal", shared)):
        reconstructed = decompress(compressed)
        fidelity = fidelity_report(model, reconstructed)
        storage = storage_report(model, compressed)
        codebook_bytes = storage.by_component()["codebook"]
        row[name] = {"codebook_rows": int(compressed.codebooks[0].shape[0]), "stored_bytes": storage.compressed_bytes,
                     "bytes_without_codebook": storage.compressed_bytes - codebook_bytes,
                     "coef_rel_l2": fidelity.coef_rel_l2, "function_rel_rms": fidelity.function_rel_rms}
        if evaluate is not None:
            row[name]["metric"] = float(evaluate(reconstructed.eval()))
    if evaluate is not None:
        row["dense_metric"] = float(evaluate(model.eval()))
    return row
