"""The Scaling page's view model: storage of N task heads, dense against one shared codebook."""
from __future__ import annotations

import pandas as pd

from ..results import CompressionResult

# SHARe-KAN (arXiv 2512.15742): 50 detection heads; a reference only, not measured here.
PAPER_HEADS, PAPER_DENSE_MB, PAPER_SHARED_MB = 50, 2900.0, 211.0
FORMS = {"dense_bytes": "N dense FP32 heads", "shared_codebook_bytes": "SHARe-KAN, one shared codebook",
         "separate_compressed_bytes": "SHARe-KAN, a codebook per head"}


def head_costs(result: CompressionResult) -> dict:
    """Bytes of one dense head, of the codebooks (paid once) and of each head's own tensors."""
    from ..format.multihead_file import shared_and_per_head_bytes

    shared, per_head = shared_and_per_head_bytes([result.compressed])
    return {"dense_per_head": result.storage.dense_bytes, "shared_once": shared, "per_head": per_head[0]}


def scaling_frame(result: CompressionResult, max_heads: int = 50) -> pd.DataFrame:
    """Long table (heads, form, MB) for N = 1..max_heads, from one compression's costs."""
    from ..experiments import multihead_storage_curve

    costs = head_costs(result)
    return curve_frame(multihead_storage_curve(costs["dense_per_head"], costs["shared_once"], costs["per_head"],
                                               max_heads))


def saved_head_costs(document: dict) -> dict:
    """``head_costs`` as a saved scaling result states them (the first head's own tensors per head)."""
    return {"dense_per_head": document["dense_bytes_per_head"], "shared_once": document["shared_codebook_bytes"],
            "per_head": document["per_head_bytes"][0]}


def curve_frame(curve: list[dict]) -> pd.DataFrame:
    """Long table (heads, form, MB) from ``multihead_storage_curve`` rows."""
    return pd.DataFrame([{"heads": row["heads"], "form": form, "MB": row[column] / 1e6}
                         for row in curve for column, form in FORMS.items()])


def file_checks_frame(document: dict) -> pd.DataFrame:
    """Per real bundle of N heads: its file bytes, the bytes the accounting predicts, and the header between them."""
    return pd.DataFrame([{"heads": check["heads"], "file bytes": check["file_bytes"],
                          "accounted": check["accounted_bytes"], "header": check["header_bytes"],
                          "header share": check["header_bytes"] / check["file_bytes"]}
                         for check in document["file_checks"]])


def paper_frame() -> pd.DataFrame:
    """The paper's 50-head point, labelled as a reference that was not measured here."""
    return pd.DataFrame([
        {"heads": PAPER_HEADS, "form": "dense, 2.9 GB (from the paper, not measured here)", "MB": PAPER_DENSE_MB},
        {"heads": PAPER_HEADS, "form": "shared codebook, 211 MB (from the paper, not measured here)",
         "MB": PAPER_SHARED_MB},
    ])
