"""Storage of N task heads: N dense heads against one shared codebook plus N sets of indices and gains."""
from __future__ import annotations


def multihead_storage_curve(dense_bytes_per_head: int, shared_bytes: int, per_head_bytes: int,
                            n_max: int = 50) -> list[dict]:
    """Rows for N = 1..n_max: dense total, shared-codebook total, and separately compressed total."""
    return [{"heads": n,
             "dense_bytes": n * dense_bytes_per_head,
             "shared_codebook_bytes": shared_bytes + n * per_head_bytes,
             "separate_compressed_bytes": n * (shared_bytes + per_head_bytes)}
            for n in range(1, n_max + 1)]
