"""Storage of N task heads: N dense heads against one shared codebook plus N sets of indices and gains."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from ..compression import CompressionConfig
from ..compression.multihead import compress_heads
from ..errors import SharekanError
from ..format import dense_bytes
from ..format.multihead_file import save_multihead, shared_and_per_head_bytes
from ..model import KAN
from ..ranges import check_int

MAX_HEADS = 10_000


def multihead_storage_curve(dense_bytes_per_head: int, shared_bytes: int, per_head_bytes: int,
                            n_max: int = 50) -> list[dict]:
    """Rows for N = 1..n_max: dense total, shared-codebook total, and separately compressed total."""
    return [{"heads": n,
             "dense_bytes": n * dense_bytes_per_head,
             "shared_codebook_bytes": shared_bytes + n * per_head_bytes,
             "separate_compressed_bytes": n * (shared_bytes + per_head_bytes)}
            for n in range(1, n_max + 1)]


def shared_codebook_scaling(heads: Sequence[KAN], config: CompressionConfig, max_heads: int = 50) -> dict:
    """Learn the codebook on ``heads[0]``, assign the other heads to it, and return the N = 1..max_heads
    storage curve with a check against real multi-head bundles for N = 1..len(heads)."""
    check_int("max_heads", max_heads, 1, MAX_HEADS)
    if not heads:
        raise SharekanError("scaling needs at least one head")
    compressed = compress_heads(heads, config)
    shared, per_head = shared_and_per_head_bytes(compressed)
    dense_per_head = dense_bytes(heads[0])
    checks = []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(1, len(compressed) + 1):
            size = save_multihead(compressed[:n], Path(folder) / f"bundle{n}.safetensors")
            payload = shared + sum(per_head[:n])
            checks.append({"heads": n, "file_bytes": size, "accounted_bytes": payload, "header_bytes": size - payload})
    return {"dense_bytes_per_head": dense_per_head, "shared_codebook_bytes": shared, "per_head_bytes": per_head,
            "curve": multihead_storage_curve(dense_per_head, shared, per_head[0], max_heads), "file_checks": checks}
