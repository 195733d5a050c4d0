"""The Scaling page's view model: storage of N task heads, dense against one shared codebook, and a real bundle run."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from .. import paper
from ..errors import SharekanError
from ..model import KAN
from ..progress import Progress
from ..results import CompressionResult
from .models import format_bytes, read_upload, safe_filename

if TYPE_CHECKING:
    from ..compression import CompressionConfig

# The paper's multi-head figure (sharekan_core.paper); a reference only, not measured here.
PAPER_HEADS, PAPER_DENSE_MB, PAPER_SHARED_MB = paper.HEADS, paper.HEADS_DENSE_MB, paper.HEADS_SHARED_MB
PAPER_DENSE_WORDS, PAPER_SHARED_WORDS = f"{PAPER_DENSE_MB / 1e3:g} GB", f"{PAPER_SHARED_MB:g} MB"
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
        {"heads": PAPER_HEADS, "form": f"dense, {PAPER_DENSE_WORDS} (from the paper, not measured here)",
         "MB": PAPER_DENSE_MB},
        {"heads": PAPER_HEADS, "form": f"shared codebook, {PAPER_SHARED_WORDS} (from the paper, not measured here)",
         "MB": PAPER_SHARED_MB},
    ])


def paper_caption() -> str:
    """The caption under the paper's multi-head chart, from ``sharekan_core.paper``."""
    return (f"SHARe-KAN (arXiv {paper.ARXIV_ID}): {PAPER_HEADS} detection heads take {PAPER_DENSE_WORDS} dense against "
            f"{PAPER_SHARED_WORDS} with a shared codebook. Shown for reference only.")


def saved_config(document: dict) -> CompressionConfig:
    """The compression settings a saved scaling result was measured at."""
    from ..compression import CompressionConfig

    return CompressionConfig(codebook_size=document["codebook_size"], bits=document["bits"])


def sharing_saving(curve: pd.DataFrame) -> dict:
    """What one shared codebook saves against a codebook per head, at the curve's largest N, from the curve
    itself: bytes and share saved, and the codebooks' share of one separately compressed head."""
    last = curve[curve["heads"] == curve["heads"].max()].set_index("form")["MB"]
    first = curve[curve["heads"] == 1].set_index("form")["MB"]
    heads = int(curve["heads"].max())
    separate, shared = last[FORMS["separate_compressed_bytes"]], last[FORMS["shared_codebook_bytes"]]
    codebooks = (separate - shared) / (heads - 1) if heads > 1 else 0.0  # (N - 1) copies of the codebooks
    return {"heads": heads, "saved_MB": separate - shared, "saved_share": (separate - shared) / separate,
            "codebook_MB": codebooks, "codebook_share": codebooks / first[FORMS["separate_compressed_bytes"]],
            "dense_MB": last[FORMS["dense_bytes"]], "shared_MB": shared}


def sharing_words(curve: pd.DataFrame) -> str:
    """One line saying what sharing saves, and why the two SHARe-KAN curves nearly coincide when it is little."""
    saving = sharing_saving(curve)
    if saving["heads"] < 2:
        return "With one head there is nothing to share."
    words = (f"Sharing one codebook saves **{format_bytes(saving['saved_MB'] * 1e6)}** at N = {saving['heads']} "
             f"against a codebook per head ({saving['saved_share']:.1%} of that total): the codebooks take "
             f"{format_bytes(saving['codebook_MB'] * 1e6)}, {saving['codebook_share']:.1%} of one compressed head, "
             f"and are stored once instead of {saving['heads']} times.")
    if saving["codebook_share"] < 0.25:
        words += (" Each head's own indices, gains and biases are most of its bytes, so the two SHARe-KAN curves "
                  f"nearly coincide; the gain over dense ({saving['dense_MB'] / saving['shared_MB']:.1f}× smaller at "
                  f"N = {saving['heads']}) comes from compressing each head.")
    return words


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
class BundleHead:
    """One head to bundle: its name in the bundle, the dense model and its metadata (its task decides which
    agreement of outputs means something)."""

    name: str
    model: KAN
    metadata: dict


def read_head_files(paths: list[Path]) -> list[BundleHead]:
    """The dense heads in ``paths``, named by their file stems."""
    from ..io import read_model

    loaded = [read_model(path) for path in paths]
    return [BundleHead(name, entry.model.eval(), entry.metadata)
            for name, entry in zip(bundle_names([path.name for path in paths]), loaded)]


def read_uploaded_heads(uploads: list[tuple[str, bytes]]) -> list[BundleHead]:
    """Heads the user uploaded, as (file name, bytes); a SharekanError names a file that cannot be read."""
    names = bundle_names([name for name, _ in uploads])
    return [BundleHead(name, loaded.model.eval(), loaded.metadata)
            for name, loaded in zip(names, (read_upload(name, payload) for name, payload in uploads))]


def bundle_names(labels: list[str]) -> list[str]:
    """Unique head names a bundle accepts (letters, digits, '_', '.', '-'; at most 64 characters), from file
    names or labels: the part before the first dot, a repeat numbered."""
    names = []
    for label in labels:
        stem = safe_filename(label, "head").split(".")[0][:56] or "head"
        name, number = stem, 2
        while name in names:
            name, number = f"{stem}_{number}", number + 1
        names.append(name)
    return names


def check_same_architecture(heads: list[BundleHead]) -> None:
    """Every head must have the first head's widths, grid and base activation to share its codebooks."""
    first = heads[0].model.config
    for head in heads[1:]:
        config = head.model.config
        if (config.widths, config.grid_size, config.spline_order, config.base_activation) != \
                (first.widths, first.grid_size, first.spline_order, first.base_activation):
            raise SharekanError(
                f"{head.name} cannot share {heads[0].name}'s codebooks: it is "
                f"{' → '.join(map(str, config.widths))} (G = {config.grid_size}, k = {config.spline_order}, "
                f"{config.base_activation}), {heads[0].name} is {' → '.join(map(str, first.widths))} "
                f"(G = {first.grid_size}, k = {first.spline_order}, {first.base_activation})")


SAME_CLASS = "same predicted class"
SAME_ANCHOR_CLASS = "same top class per anchor"


def output_agreement(metadata: dict, dense: torch.Tensor, ran: torch.Tensor) -> tuple[str, float] | None:
    """A share of outputs that agree and means something for the head's task, with its column name: the
    predicted class for a classifier (the digits task), the top class of each anchor for a detection head
    (its outputs are 6 anchors x (class logits, 4 box numbers), so an arg-max over all of them means nothing);
    None for a model without a known task, whose outputs need not be classes."""
    task = metadata.get("task")
    if task == "digits":
        return SAME_CLASS, float((ran.argmax(dim=1) == dense.argmax(dim=1)).float().mean())
    if task == "detection":
        from ..detection.anchors import MAX_ANCHORS_PER_LOCATION

        slots = dense.shape[1] // MAX_ANCHORS_PER_LOCATION - 4  # class logits per anchor, then 4 box numbers
        top = [out.reshape(len(out), MAX_ANCHORS_PER_LOCATION, -1)[..., :slots].argmax(dim=-1) for out in (dense, ran)]
        return SAME_ANCHOR_CLASS, float((top[0] == top[1]).float().mean())
    return None


AGREEMENT_NOTES = {
    SAME_CLASS: "same predicted class is the share of inputs whose largest output (the class) is the same.",
    SAME_ANCHOR_CLASS: "same top class per anchor is the share of the inputs' 6 anchors whose highest class logit "
                       "(background included) is the same; the 4 box numbers are in the relative output error.",
    None: "no share of agreeing classes is shown: the model's file names no classification or detection task, so "
          "its outputs need not be classes.",
}


@dataclass(frozen=True)
class BundleRun:
    """A real bundle built from dense heads, loaded back and run: one row per head, and the file's facts."""

    heads: pd.DataFrame
    file_bytes: int
    codebooks_shared: bool  # every loaded head holds the very same codebook objects
    agreement: str | None   # the column of agreeing outputs, if one means something for these heads

    @property
    def agreement_note(self) -> str:
        return AGREEMENT_NOTES[self.agreement]


def run_bundle_heads(heads: list[BundleHead], config: CompressionConfig, rows: int = 64,
                     progress: Progress | None = None) -> BundleRun:
    """Compress ``heads[0]``, assign the other heads to its codebooks, write one bundle, load it back, and run
    every head on the same ``rows`` inputs (uniform over each input's grid) against its own dense head."""
    from ..compression.multihead import compress_heads
    from ..format.multihead_file import load_multihead, save_multihead, shared_and_per_head_bytes
    from ..runtime.loading import compressed_runnable

    if not heads:
        raise SharekanError("a bundle needs at least one head")
    check_same_architecture(heads)
    report = progress or (lambda fraction, message: None)
    report(0.0, f"compressing {heads[0].name} and assigning the other heads to its codebooks")
    compressed = compress_heads([head.model for head in heads], config)
    _, own = shared_and_per_head_bytes(compressed)
    report(0.7, "writing the bundle and loading it back")
    with tempfile.TemporaryDirectory(prefix="sharekan-bundle-") as folder:
        size = save_multihead(compressed, Path(folder) / "bundle.safetensors", [head.name for head in heads])
        bundle = load_multihead(Path(folder) / "bundle.safetensors")
    x = grid_inputs(heads[0].model, rows)
    table, agreement = [], None
    for (name, loaded), head, own_bytes in zip(bundle.heads.items(), heads, own):
        report(0.8, f"running head {name}")
        with torch.no_grad():
            dense, ran = head.model(x), compressed_runnable(loaded).module(x)
        row = {"head": name, "own bytes": own_bytes,
               "relative output error": float((ran - dense).norm() / dense.norm())}
        agreed = output_agreement(heads[0].metadata, dense, ran)
        if agreed is not None:
            agreement, row[agreed[0]] = agreed[0], agreed[1]
        table.append(row)
    report(1.0, "done")
    shared = all(head.codebooks is bundle.codebooks for head in bundle.heads.values())
    return BundleRun(pd.DataFrame(table), size, shared, agreement)


def grid_inputs(model: KAN, rows: int, seed: int = 0) -> torch.Tensor:
    """(rows, in) inputs uniform over each input's grid range (the knots' interior)."""
    layer = model.layers[0]
    order = layer.spline_order
    low, high = layer.grid[:, order], layer.grid[:, -order - 1]
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(rows, layer.in_features, generator=generator)
