"""N task heads that share one set of codebooks, serialised once: the multi-head bundle."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..compress.compressed import CompressedKAN
from ..errors import SharekanError
from ..io.atomic import write_bytes_atomic
from .integrity import encode_checked
from .compressed_file import FORMAT_VERSION, codebook_header, layer_header, stored_tensors

MULTIHEAD_FORMAT = "sharekan-multihead"


def shared_and_per_head_bytes(heads: list[CompressedKAN]) -> tuple[int, list[int]]:
    """Bytes of the shared codebooks, and of each head's own tensors (indices, gains, ...)."""
    _check_shared(heads)
    shared = sum(t.array.nbytes for t in stored_tensors(heads[0]) if t.component == "codebook")
    per_head = [sum(t.array.nbytes for t in stored_tensors(h) if t.component != "codebook") for h in heads]
    return int(shared), [int(b) for b in per_head]


def encode_multihead(heads: list[CompressedKAN]) -> bytes:
    """Serialise the shared codebooks once, then every head's per-edge tensors."""
    _check_shared(heads)
    tensors = {t.name: t.array for t in stored_tensors(heads[0]) if t.component == "codebook"}
    for h, head in enumerate(heads):
        tensors.update({f"heads.{h}.{t.name}": t.array for t in stored_tensors(head) if t.component != "codebook"})
    fields = {
        "format": MULTIHEAD_FORMAT,
        "version": FORMAT_VERSION,
        "codebooks": [codebook_header(c) for c in heads[0].codebooks],
        "heads": [{"config": asdict(h.config), "layers": [layer_header(l) for l in h.layers], "metadata": h.metadata}
                  for h in heads],
    }
    return encode_checked(fields, tensors)


def save_multihead(heads: list[CompressedKAN], path: str | Path) -> int:
    """Write the bundle atomically; return its size in bytes."""
    payload = encode_multihead(heads)
    write_bytes_atomic(path, payload)
    return len(payload)


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
