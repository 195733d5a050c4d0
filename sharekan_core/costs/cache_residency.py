"""Cache residency: which cache level each part of a compressed head's working set fits in.

Per layer, the codebook is the resident table (read by every input); indices, gains, biases
and base weights are streamed once per call. Sizes are set against the host's caches (from
sysfs) and against the published L2 of named parts in ``cache_parts``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..compression.compressed import CompressedKAN
from ..compression.packing import FP32, packed_nbytes
from ..format.accounting import dense_edge_bytes
from .cache_parts import CACHE_PARTS

SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


@dataclass(frozen=True)
class LayerResidency:
    """Bytes one layer holds or streams per call; ``codebook_float`` is the dequantized copy the forward reads."""

    layer: int
    codebook_stored: int
    codebook_float: int
    streamed: dict[str, int]        # indices, gains, biases, base_weights: stored bytes read per call
    response_per_row: int           # float32 (in, K) scratch per input row
    dense_edge_bytes: int           # the same layer's dense FP32 per-edge weights (splines, scaler, base): E (D + 2) 4

    @property
    def streamed_bytes(self) -> int:
        """Total bytes streamed per call."""
        return sum(self.streamed.values())


def host_caches(root: Path = SYSFS_CACHE) -> dict[str, int]:
    """Data/unified cache sizes of CPU 0 by level name ('L1d', 'L2', 'L3'); empty when sysfs is absent."""
    caches: dict[str, int] = {}
    for entry in sorted(root.glob("index*")) if root.is_dir() else []:
        try:
            level = (entry / "level").read_text().strip()
            kind = (entry / "type").read_text().strip()
            size = _parse_size((entry / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        caches["L1d" if level == "1" else f"L{level}"] = size
    return caches


def _parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def fits_in(nbytes: int, caches: dict[str, int]) -> str:
    """Smallest cache level that holds ``nbytes``, or 'DRAM' (or 'unknown' without cache sizes)."""
    if not caches:
        return "unknown"
    for name, size in sorted(caches.items(), key=lambda item: item[1]):
        if nbytes <= size:
            return name
    return "DRAM"


def layer_residencies(compressed: CompressedKAN) -> list[LayerResidency]:
    """Per layer of a compressed KAN: the bytes it keeps resident and streams per call, and its dense edges' bytes."""
    rows = []
    for index, layer in enumerate(compressed.layers):
        codebook = compressed.codebooks[layer.codebook_id]
        k_eff, coefficients = codebook.shape
        streamed = {
            "indices": packed_nbytes(layer.num_edges, compressed.index_bits(layer.codebook_id)),
            "gains": layer.gains.nbytes,
            "biases": layer.biases.nbytes,
            "base_weights": layer.base_weights.nbytes,
        }
        rows.append(LayerResidency(index, codebook.nbytes, k_eff * coefficients * FP32, streamed,
                                   layer.in_features * k_eff * FP32, layer.num_edges * dense_edge_bytes(coefficients)))
    return rows


def residency_report(compressed: CompressedKAN, caches: dict[str, int] | None = None) -> dict:
    """Per layer and for the whole head: bytes, and the host cache level and named-part L2s each fits in."""
    caches = host_caches() if caches is None else caches
    layers = []
    sets = layer_residencies(compressed)
    for ws in sets:
        layers.append({
            "layer": ws.layer,
            "codebook_stored_bytes": ws.codebook_stored, "codebook_float_bytes": ws.codebook_float,
            "codebook_fits": fits_in(ws.codebook_float, caches),
            "streamed_bytes": ws.streamed, "streamed_total_bytes": ws.streamed_bytes,
            "streamed_fits": fits_in(ws.streamed_bytes, caches),
            "response_bytes_per_row": ws.response_per_row, "response_fits": fits_in(ws.response_per_row, caches),
            "dense_edge_bytes": ws.dense_edge_bytes, "dense_fits": fits_in(ws.dense_edge_bytes, caches),
        })
    # a codebook shared by all layers counts once
    codebooks = {compressed.layers[w.layer].codebook_id: w.codebook_float for w in sets}
    head = {
        "codebook_float_bytes": sum(codebooks.values()),
        "streamed_bytes": sum(w.streamed_bytes for w in sets),
        "dense_edge_bytes": sum(w.dense_edge_bytes for w in sets),
    }
    head["compressed_total_bytes"] = head["codebook_float_bytes"] + head["streamed_bytes"]
    head.update({f"{name.replace('_bytes', '')}_fits": fits_in(head[name], caches)
                 for name in ("codebook_float_bytes", "streamed_bytes", "compressed_total_bytes", "dense_edge_bytes")})
    parts = [{"part": p.name, "kind": p.kind, "l2_bytes": p.l2_bytes, "scope": p.scope, "source": p.source,
              "codebooks_fit_l2": head["codebook_float_bytes"] <= p.l2_bytes,
              "compressed_fits_l2": head["compressed_total_bytes"] <= p.l2_bytes,
              "dense_fits_l2": head["dense_edge_bytes"] <= p.l2_bytes} for p in CACHE_PARTS]
    return {"host_caches": caches, "layers": layers, "head": head, "parts": parts}
