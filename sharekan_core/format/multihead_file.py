"""N task heads that share one set of codebooks, serialised once: the multi-head bundle.

Tensor names: the codebooks as in a compressed file (``codebooks.C.*``), then each head's own
tensors under ``heads.H.`` (``heads.H.layers.N.*``). The JSON header names every head and holds
its config, layer descriptions, metadata and (unless SiLU) base activation.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..compression.compressed import CompressedKAN
from ..compression.config import CompressionConfig
from ..compression.quantize import QuantizedTensor
from ..errors import SharekanError
from ..io.atomic import write_bytes_atomic
from ..io.tensors import header_field
from .compressed_file import (FORMAT_VERSION, _read_layer, activation_field, check_layer_chain, codebook_header,
                              header_format, layer_header, read_checked, read_codebooks, recorded_activation,
                              stored_tensors)
from .consistency import check_consistent, check_stored_names
from .integrity import encode_checked, malformed_detail

MULTIHEAD_FORMAT = "sharekan-multihead"
HEAD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class MultiHeadBundle:
    """Heads read from one bundle; every head's ``codebooks`` is the same list object, read once."""

    codebooks: list[QuantizedTensor]
    heads: dict[str, CompressedKAN]  # by name, in file order

    def head(self, name: str) -> CompressedKAN:
        """The head called ``name``; a SharekanError listing the names if there is none."""
        if name not in self.heads:
            raise SharekanError(f"no head {name!r} in this bundle; it holds {', '.join(self.heads)}")
        return self.heads[name]


def head_names(heads: list, names: list[str] | None = None) -> list[str]:
    """``names``, or each head's source file stem (``head{h}`` where stems are missing or repeat), checked."""
    if names is None:
        stems = [Path(str(h.metadata.get("source", ""))).name.split(".")[0] for h in heads]
        names = stems if all(stems) and len(set(stems)) == len(stems) else [f"head{h}" for h in range(len(heads))]
    if len(names) != len(heads):
        raise SharekanError(f"{len(heads)} heads but {len(names)} names")
    bad = [n for n in names if not isinstance(n, str) or not HEAD_NAME.match(n)]
    if bad:
        raise SharekanError(f"head names may use letters, digits, '_', '.' and '-' (1-64 characters), got {bad[0]!r}")
    if len(set(names)) != len(names):
        raise SharekanError(f"head names must be unique, got {names}")
    return names


def shared_and_per_head_bytes(heads: list[CompressedKAN]) -> tuple[int, list[int]]:
    """Bytes of the shared codebooks, and of each head's own tensors (indices, gains, ...)."""
    _check_shared(heads)
    shared = sum(t.array.nbytes for t in stored_tensors(heads[0]) if t.component == "codebook")
    per_head = [sum(t.array.nbytes for t in stored_tensors(h) if t.component != "codebook") for h in heads]
    return int(shared), [int(b) for b in per_head]


def encode_multihead(heads: list[CompressedKAN], names: list[str] | None = None) -> bytes:
    """Serialise the shared codebooks once, then every head's per-edge tensors (heads named by ``head_names``)."""
    _check_shared(heads)
    names = head_names(heads, names)
    tensors = _bundle_tensors(heads)
    fields = {
        "format": MULTIHEAD_FORMAT,
        "version": FORMAT_VERSION,
        "codebooks": [codebook_header(c) for c in heads[0].codebooks],
        "heads": [{"name": name, "config": asdict(h.config), "layers": [layer_header(l) for l in h.layers],
                   "metadata": h.metadata, **activation_field(h.base_activation)} for name, h in zip(names, heads)],
    }
    return encode_checked(fields, tensors)


def _bundle_tensors(heads: list[CompressedKAN]) -> dict[str, np.ndarray]:
    """Every tensor a bundle of ``heads`` stores, by name: the first head's codebooks, then each head's own."""
    tensors = {t.name: t.array for t in stored_tensors(heads[0]) if t.component == "codebook"}
    for h, head in enumerate(heads):
        tensors.update({f"heads.{h}.{t.name}": t.array for t in stored_tensors(head) if t.component != "codebook"})
    return tensors


def save_multihead(heads: list[CompressedKAN], path: str | Path, names: list[str] | None = None) -> int:
    """Write the bundle atomically; return its size in bytes."""
    payload = encode_multihead(heads, names)
    write_bytes_atomic(path, payload)
    return len(payload)


def is_multihead_file(path: str | Path) -> bool:
    """True if ``path`` is a safetensors file written by ``save_multihead``."""
    return header_format(path) == MULTIHEAD_FORMAT


def load_multihead(path: str | Path) -> MultiHeadBundle:
    """Read a bundle: its codebooks once, then every head's layers against those same codebooks."""
    path = Path(path)
    header, arrays = read_checked(path, MULTIHEAD_FORMAT, "SHARe-KAN multi-head bundle")
    try:
        codebooks = read_codebooks(arrays, header, path)
        specs = header_field(header, "heads", list, path)
        names = head_names([None] * len(specs), [spec.get("name", f"head{h}") for h, spec in enumerate(specs)])
        heads = {name: _read_head(arrays, h, spec, codebooks) for h, (name, spec) in enumerate(zip(names, specs))}
    except SharekanError as exc:
        raise SharekanError(f"{path.name}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SharekanError(f"{path.name}: corrupt multi-head bundle ({malformed_detail(exc)})") from None
    if not heads:
        raise SharekanError(f"{path.name}: the bundle holds no heads")
    try:
        check_stored_names(arrays, _bundle_tensors(list(heads.values())))
    except SharekanError as exc:
        raise SharekanError(f"{path.name}: {exc}") from None
    return MultiHeadBundle(codebooks, heads)


def _read_head(arrays: dict[str, np.ndarray], h: int, spec: dict, codebooks: list[QuantizedTensor]) -> CompressedKAN:
    prefix = f"heads.{h}."
    own = {name[len(prefix):]: array for name, array in arrays.items() if name.startswith(prefix)}
    layers = [_read_layer(own, index, layer, codebooks) for index, layer in enumerate(spec["layers"])]
    head = CompressedKAN(codebooks, layers, CompressionConfig(**spec["config"]), dict(spec.get("metadata", {})),
                         recorded_activation(spec))
    try:
        check_layer_chain(layers)
        check_consistent(head)
    except SharekanError as exc:
        raise SharekanError(f"head {h}: {exc}") from None
    return head


def _check_shared(heads: list[CompressedKAN]) -> None:
    if not heads:
        raise SharekanError("a multi-head bundle needs at least one head")
    first = heads[0].codebooks
    for index, head in enumerate(heads[1:], start=1):
        same = len(head.codebooks) == len(first) and all(
            a.bits == b.bits and a.shape == b.shape and np.array_equal(a.payload, b.payload)
            and (a.minimum is None or (np.array_equal(a.minimum, b.minimum) and np.array_equal(a.step, b.step)))
            for a, b in zip(first, head.codebooks))
        if not same:
            raise SharekanError(f"head {index} does not use the same codebooks as head 0")


def bundle_summary(bundle: MultiHeadBundle) -> dict:
    """JSON-ready description: the shared codebooks once, then each head's widths, edges, own bytes and source."""
    heads = list(bundle.heads.values())
    shared, per_head = shared_and_per_head_bytes(heads)
    return {
        "format": MULTIHEAD_FORMAT,
        "codebooks": [codebook_header(c) for c in bundle.codebooks],
        "shared_codebook_bytes": shared,
        "heads": [{"name": name, "widths": [h.layers[0].in_features, *(l.out_features for l in h.layers)],
                   "edges": h.num_edges, "own_bytes": own, "source": h.metadata.get("source")}
                  for (name, h), own in zip(bundle.heads.items(), per_head)],
    }
