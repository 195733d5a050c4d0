"""The compressed file of a whole FastKAN, ChebyKAN, Gram or torchkan net (what ``compress`` writes for one): safetensors whose
header lists each layer's ``basis_file`` fields, its tensors under ``layers.N.`` in ``basis_file``'s names, and one
sha256 checksum over the header and every tensor.

    {"format": "sharekan-compressed-basis-kan", "version": "1", "family": "FastKAN", "metadata": {...},
     "layers": [<basis_fields of layer 0>, ...], "positions": [0, 2], "between": [{"features": 16, "eps": 1e-05}],
     "checksum": {...}}

A LayerNorm between two layers (``between``; null where none) is stored dense as ``between.N.weight`` / ``.bias``;
``positions`` are the layers' indices in the source net's container, so ``decompress`` writes its own layout.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..compression.basis_net import CompressedBasisKAN
from ..errors import SharekanError
from ..io.atomic import write_bytes_atomic
from ..io.limits import MAX_LAYERS

MAX_WIDTH = 1 << 20  # features of a LayerNorm between layers
from .basis_file import BASIS_FORMAT, BASIS_VERSION, STORED_FAMILIES, basis_arrays, basis_fields, basis_layer_from
from .compressed_file import header_format, read_checked
from .integrity import encode_checked

BASIS_KAN_FORMAT = "sharekan-compressed-basis-kan"
BASIS_KAN_KIND = "compressed FastKAN, ChebyKAN, Gram or torchkan file"
BASIS_KAN_VERSION = "1"


def encode_basis_kan(compressed: CompressedBasisKAN) -> bytes:
    """Safetensors bytes of ``compressed`` (deterministic: sorted JSON, no timestamps), checksum in the header."""
    fields = {"format": BASIS_KAN_FORMAT, "version": BASIS_KAN_VERSION, "family": compressed.family,
              "metadata": compressed.metadata, "layers": [basis_fields(layer) for layer in compressed.layers],
              "positions": list(compressed.positions),
              "between": [None if norm is None else {"features": int(norm.normalized_shape[0]), "eps": float(norm.eps)}
                          for norm in compressed.between]}
    arrays = {f"layers.{index}.{name}": array for index, layer in enumerate(compressed.layers)
              for name, array in basis_arrays(layer).items()}
    arrays.update({f"between.{index}.{name}": value.detach().float().numpy()
                   for index, norm in enumerate(compressed.between) if norm is not None
                   for name, value in norm.state_dict().items()})
    return encode_checked(fields, arrays)


def save_basis_kan(compressed: CompressedBasisKAN, path: str | Path) -> int:
    """Write ``compressed`` atomically; return the file's size in bytes."""
    payload = encode_basis_kan(compressed)
    write_bytes_atomic(path, payload)
    return len(payload)


def is_basis_kan_file(path: str | Path) -> bool:
    """True if ``path`` is a file ``save_basis_kan`` wrote."""
    return header_format(path) == BASIS_KAN_FORMAT


def load_basis_kan(path: str | Path) -> CompressedBasisKAN:
    """Read a compressed basis-net file: checksum verified, every layer's header and tensors validated, the layers
    checked to chain (each one's inputs the last one's outputs) and to be of the file's one family."""
    path = Path(path)
    header, arrays = read_checked(path, BASIS_KAN_FORMAT, BASIS_KAN_KIND)
    if header.get("version") != BASIS_KAN_VERSION:
        raise SharekanError(f"{path.name}: unsupported {BASIS_KAN_KIND} version {header.get('version')!r}")
    family, layers, metadata = header.get("family"), header.get("layers"), header.get("metadata", {})
    if family not in STORED_FAMILIES or not isinstance(metadata, dict) or not isinstance(layers, list) \
            or not 1 <= len(layers) <= MAX_LAYERS:
        raise SharekanError(f"{path.name}: corrupt {BASIS_KAN_KIND} header (family, metadata or layers)")
    between = _norms(header.get("between"), arrays, len(layers), path.name)
    positions = header.get("positions")
    if not isinstance(positions, list) or len(positions) != len(layers) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 4 * MAX_LAYERS for p in positions) \
            or any(b <= a + (norm is not None) for a, b, norm in zip(positions, positions[1:], between)):
        raise SharekanError(f"{path.name}: corrupt {BASIS_KAN_KIND} header (positions)")
    stray = [name for name in arrays if not any(name.startswith(f"layers.{i}.") for i in range(len(layers)))
             and not any(name == f"between.{i}.{part}" for i, norm in enumerate(between) if norm is not None
                         for part in ("weight", "bias"))]
    if stray:
        raise SharekanError(f"{path.name}: tensors outside the listed layers: {', '.join(stray[:4])}")
    decoded = []
    for index, fields in enumerate(layers):
        source = f"{path.name}: layer {index}"
        if not isinstance(fields, dict) or fields.get("format") != BASIS_FORMAT or fields.get("version") != BASIS_VERSION \
                or fields.get("family") != family:
            raise SharekanError(f"{source}: not a {family} layer of this format")
        own = {name[len(f"layers.{index}."):]: array for name, array in arrays.items()
               if name.startswith(f"layers.{index}.")}
        decoded.append(basis_layer_from(fields, own, source))
    for index, (before, after) in enumerate(zip(decoded, decoded[1:])):
        width = before.indices.shape[0] if between[index] is None else between[index].normalized_shape[0]
        if after.indices.shape[1] != before.indices.shape[0] or width != before.indices.shape[0]:
            raise SharekanError(f"{path.name}: layer {index + 1} takes {after.indices.shape[1]} inputs, but layer "
                                f"{index} gives {before.indices.shape[0]} (through {width} features)")
    return CompressedBasisKAN(decoded, family, metadata, between, positions)


def _norms(listed: object, arrays: dict[str, np.ndarray], layers: int, source: str) -> list[nn.LayerNorm | None]:
    """The LayerNorms the header lists between layers, their weights and biases read and checked."""
    if not isinstance(listed, list) or len(listed) != layers - 1:
        raise SharekanError(f"{source}: corrupt {BASIS_KAN_KIND} header (between)")
    norms: list[nn.LayerNorm | None] = []
    for index, spec in enumerate(listed):
        if spec is None:
            norms.append(None)
            continue
        features, eps = (spec.get("features"), spec.get("eps")) if isinstance(spec, dict) else (None, None)
        if not isinstance(features, int) or isinstance(features, bool) or not 1 <= features <= MAX_WIDTH \
                or not isinstance(eps, float) or not np.isfinite(eps) or eps <= 0 or set(spec) != {"features", "eps"}:
            raise SharekanError(f"{source}: corrupt {BASIS_KAN_KIND} header (between {index})")
        norm = nn.LayerNorm(features, eps=eps)
        for part in ("weight", "bias"):
            stored = arrays.get(f"between.{index}.{part}")
            if stored is None or stored.dtype != np.float32 or stored.shape != (features,) or not np.isfinite(stored).all():
                raise SharekanError(f"{source}: between.{index}.{part} must be {features} finite float32 values")
            with torch.no_grad():
                getattr(norm, part).copy_(torch.from_numpy(stored))
        norms.append(norm)
    return norms


def basis_kan_summary(compressed: CompressedBasisKAN) -> dict:
    """What ``inspect`` prints for a compressed basis net: family, stored bytes and each layer's shape and codes."""
    return {"family": compressed.family, "compressed_bytes": compressed.nbytes, "edges": compressed.num_edges,
            "metadata": compressed.metadata,
            "layers": [{"in_features": int(layer.indices.shape[1]), "out_features": int(layer.indices.shape[0]),
                        "basis_functions": int(layer.codebook.shape[1]), "codebook_size": int(layer.codebook.shape[0]),
                        "base_activation": layer.base_activation if layer.base_weights is not None else None,
                        "codewords_used": int(np.unique(layer.indices).size)} for layer in compressed.layers]}
