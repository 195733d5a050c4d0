"""What every generated document's tables share: where the saved results are, how to read one, how to print a size."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
DETECTOR_DIR = ROOT / "sample_models" / "ssd_mobilenet_v2"


def load(kind: str, name: str) -> dict | None:
    path = ASSETS / kind / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


class MissingResult(LookupError):
    """A table's saved result file is absent; the generated document says so in the table's place."""


def saved(kind: str, name: str) -> dict:
    """assets/<kind>/<name>.json, read; MissingResult when it is absent."""
    document = load(kind, name)
    if document is None:
        raise MissingResult(f"(nothing saved as `assets/{kind}/{name}.json`)")
    return document


def mb(size: float) -> str:
    return f"{size / 1e6:.3f}"


def change_interval_words(figures: dict, decimals: int = 1) -> str:
    """' (low to high): verdict', the bootstrap interval of a change against dense in points (tasks/bootstrap.py's
    figures), as every docs table prints it."""
    low, high = (100 * v for v in figures["change_ci95"])
    return f" ({low:+.{decimals}f} to {high:+.{decimals}f}): {figures['verdict']}"


def method_name(row: dict) -> str:
    return f"{row['method']} ({row['variant']})" if row.get("variant") else row["method"]


def single_box_swing(file_name: str = "teacher_heldout_detections.json") -> float:
    """How far one box's rank can move mAP@0.5 on a held-out reference (in points): 0.5 / classes when some
    class rests on one box (its AP is 1.0 ranked first, 0.5 ranked second), else 0."""
    counts = reference_counts(file_name)[1]
    return 50.0 / len(counts) if counts and min(counts.values()) == 1 else 0.0


def reference_counts(file_name: str) -> tuple[dict, dict[str, int]]:
    """A held-out teacher reference (in the detector folder) and its boxes per class."""
    reference = json.loads((DETECTOR_DIR / file_name).read_text())
    counts: dict[str, int] = {}
    for entry in reference["images"]:
        for detection in entry["detections"]:
            counts[detection["label"]] = counts.get(detection["label"], 0) + 1
    return reference, counts


def model_version(document: dict) -> str:
    """Which model file a method sweep measured: its commit where recorded, and its SHA-256."""
    commit, sha = document.get("model_commit"), document.get("model_sha256")
    parts = ([f"at commit `{commit[:10]}`"] if commit else []) + ([f"SHA-256 `{sha[:12]}`"] if sha else [])
    return ", ".join(parts) or "of unrecorded version"


def head_score(score: float) -> str:
    """A head's score of a teacher box, with a third decimal where two would round it onto the 0.5 threshold."""
    return f"{score:.3f}" if round(score, 2) == 0.5 else f"{score:.2f}"



def commit_date(commit: str) -> str:
    """The day ``commit`` was committed (YYYY-MM-DD), from this checkout's git history."""
    import subprocess

    done = subprocess.run(["git", "log", "-1", "--format=%cs", commit], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "on a date not in this checkout"


def paper_figure(name: str) -> str:
    """One of the paper's figures (sharekan_core.paper), formatted as the paper states it."""
    from sharekan_core import paper

    figures = {"dense_head_mb": f"{paper.DENSE_HEAD_MB:g}", "int8_head_mb": f"{paper.INT8_HEAD_MB:g}",
               "int8_ratio": f"{paper.INT8_RATIO:g}", "dense_map": f"{paper.DENSE_VOC_MAP:g}",
               "int8_map": f"{paper.INT8_VOC_MAP:g}",
               "int8_map_drop": f"{paper.DENSE_VOC_MAP - paper.INT8_VOC_MAP:.1f}",
               "coco_transfer_retained_percent": f"{paper.COCO_TRANSFER_RETAINED * 100:g}",
               "quantization_retention_points": f"{paper.QUANTIZATION_RETENTION_POINTS:g}",
               "heads": f"{paper.HEADS}", "heads_dense": f"{paper.HEADS_DENSE_MB / 1000:g} GB",
               "heads_shared": f"{paper.HEADS_SHARED_MB:g} MB",
               "pruning_sparsity_percent": f"{paper.PRUNING_SPARSITY * 100:g}",
               "pruning_map_drop": f"{paper.PRUNING_MAP_DROP:g}"}
    return figures[name]


def library_fact(name: str) -> str:
    """A limit of the library as sharekan_core.ranges states it: ``config_bits`` ('32, 16, 8 or 4') or
    ``max_codebook`` ('65,536')."""
    from sharekan_core import ranges

    if name == "config_bits":
        *most, last = ranges.CONFIG_BITS
        return f"{', '.join(map(str, most))} or {last}"
    return {"max_codebook": f"{ranges.MAX_CODEBOOK:,}"}[name]
