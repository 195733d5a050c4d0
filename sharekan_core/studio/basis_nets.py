"""The Model page's panel for an uploaded FastKAN, ChebyKAN or Gram/KAGN net: its layers in numbers, and its
compression (SHARe-KAN layer by layer) with the compressed file's bytes to download. The other pages work on
B-spline KANs, so such a net is compressed here, not made the session's model."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..io.basis_net import basis_kan_constructor
from ..io.model_file import LoadedModel
from ..model.basis_kan import BasisKAN


@dataclass(frozen=True)
class BasisCompression:
    """One compression of an uploaded basis net: its report (``basis_kan_report``) and the compressed file's bytes."""

    codebook_size: int
    bits: int
    report: dict
    encoded: bytes


def basis_summary(net: BasisKAN) -> dict:
    """The panel's headline numbers: widths, edges, dense bytes, basis functions per edge, and the family's
    parameters (what the library's class is built with)."""
    return {"widths": [net.layers[0].in_features, *(layer.out_features for layer in net.layers)],
            "edges": net.num_edges, "dense_bytes": net.nbytes,
            "basis_functions": sorted({layer.num_coefficients for layer in net.layers}),
            "built_with": basis_kan_constructor(net)}


def basis_layer_table(net: BasisKAN) -> pd.DataFrame:
    """One row per layer: shape, edges, basis functions, dense bytes, base branch and the norm after it."""
    norms = [*net.norms(), None]
    rows = [{"layer": index, "in -> out": f"{layer.in_features} -> {layer.out_features}",
             "edges": layer.in_features * layer.out_features, "basis functions": layer.num_coefficients,
             "dense KB": sum(v.numel() * v.element_size() for v in layer.state_dict().values()) / 1e3,
             "base branch": layer.base_activation if layer.base_weight is not None else "none",
             "then": "LayerNorm" if norms[index] is not None else ""}
            for index, layer in enumerate(net.layers)]
    return pd.DataFrame(rows)


def codebook_sizes(net: BasisKAN) -> list[int]:
    """Codebook sizes worth offering: powers of two from 4 up to the smallest layer's edge count."""
    largest = min(layer.in_features * layer.out_features for layer in net.layers)
    return [size for size in (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096) if size <= largest] or [largest]


def compress_upload(loaded: LoadedModel, codebook_size: int, bits: int, name: str) -> BasisCompression:
    """Compress the uploaded net with SHARe-KAN (no calibration: the page has none for it) and encode its file."""
    from ..compression.config import CompressionConfig  # deferred: not a first-paint import
    from ..results import compress_basis_and_measure

    result = compress_basis_and_measure(loaded, CompressionConfig(codebook_size=codebook_size, bits=bits), None, name)
    return BasisCompression(codebook_size, bits, result.report, result.encoded)


def is_basis_net(loaded: LoadedModel) -> bool:
    """Whether an upload is a FastKAN, ChebyKAN or Gram net (shown and compressed by this module's panel)."""
    return isinstance(loaded.model, BasisKAN)
