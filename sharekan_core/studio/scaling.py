"""The Scaling page's view model: storage of N task heads, dense against one shared codebook, and a real bundle run."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from ..errors import SharekanError
from ..model import KAN
from ..progress import Progress
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


def head_files(names: list[str], models_dir: Path) -> list[Path]:
    """The shipped files called ``names`` (searched under ``models_dir``); a SharekanError names a missing one."""
    paths = []
    for name in names:
        found = sorted(models_dir.rglob(name))
        if not found:
            raise SharekanError(f"head file {name} is not under {models_dir}")
        paths.append(found[0])
    return paths


@dataclass(frozen=True)
class BundleRun:
    """A real bundle built from dense heads, loaded back and run: one row per head, and the file's facts."""

    heads: pd.DataFrame
    file_bytes: int
    codebooks_shared: bool  # every loaded head holds the very same codebook objects


def run_bundle_heads(paths: list[Path], codebook_size: int, bits: int, rows: int = 64,
                     progress: Progress | None = None) -> BundleRun:
    """Compress ``paths[0]``, assign the other heads to its codebooks, write one bundle, load it back, and run
    every head on the same ``rows`` inputs (uniform over each input's grid) against its own dense head."""
    from ..compress import CompressionConfig
    from ..format.multihead_file import compress_heads, load_multihead, save_multihead, shared_and_per_head_bytes
    from ..io import read_model
    from ..runtime.loading import compressed_runnable

    report = progress or (lambda fraction, message: None)
    config = CompressionConfig(codebook_size=codebook_size, bits=bits)
    models = [read_model(path).model.eval() for path in paths]
    report(0.0, f"compressing {paths[0].name} and assigning the other heads to its codebooks")
    compressed = compress_heads(models, config)
    names = [path.name.split(".")[0] for path in paths]
    _, own = shared_and_per_head_bytes(compressed)
    report(0.7, "writing the bundle and loading it back")
    with tempfile.TemporaryDirectory(prefix="sharekan-bundle-") as folder:
        size = save_multihead(compressed, Path(folder) / "bundle.safetensors", names)
        bundle = load_multihead(Path(folder) / "bundle.safetensors")
    x = grid_inputs(models[0], rows)
    table = []
    for (name, head), model, own_bytes in zip(bundle.heads.items(), models, own):
        report(0.8, f"running head {name}")
        with torch.no_grad():
            dense, ran = model(x), compressed_runnable(head).module(x)
        table.append({"head": name, "own bytes": own_bytes,
                      "relative output error": float((ran - dense).norm() / dense.norm()),
                      "same arg-max": float((ran.argmax(dim=1) == dense.argmax(dim=1)).float().mean())})
    report(1.0, "done")
    shared = all(head.codebooks is bundle.codebooks for head in bundle.heads.values())
    return BundleRun(pd.DataFrame(table), size, shared)


def grid_inputs(model: KAN, rows: int, seed: int = 0) -> torch.Tensor:
    """(rows, in) inputs uniform over each input's grid range (the knots' interior)."""
    layer = model.layers[0]
    order = layer.spline_order
    low, high = layer.grid[:, order], layer.grid[:, -order - 1]
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(rows, layer.in_features, generator=generator)
