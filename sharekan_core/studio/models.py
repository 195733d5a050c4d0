"""Which models the studio offers (shipped files and uploads) and the facts the Model page shows."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import SharekanError
from ..format.accounting import dense_storage
from ..io import LoadedModel, read_model
from ..metrics import coefficient_statistics
from ..model import KAN

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "sample_models"
MAX_UPLOAD_BYTES = 512 * 2**20
UPLOAD_SUFFIXES = (".safetensors", ".pt", ".pth", "_state")


@dataclass(frozen=True)
class ShippedModel:
    """A model file in sample_models/, the name the studio shows, its task, and its saved results' file stem."""

    name: str
    path: Path
    task: str
    results_stem: str  # assets/{sweeps,transfer,scaling}/<stem>.json, written by scripts/make_assets.py


def shipped_models() -> list[ShippedModel]:
    """Shipped models that exist on disk, the detection head first (the studio's default)."""
    candidates = [
        ShippedModel("SSD detection head (KAN, 20 VOC classes)", SAMPLE_DIR / "ssd_mobilenet_v2" / "kan_head.safetensors",
                     "detection", "detection_head"),
        ShippedModel("Digits classifier (KAN 64-32-10)", SAMPLE_DIR / "digits_kan.safetensors", "digits", "digits_kan"),
    ]
    return [model for model in candidates if model.path.is_file()]


def read_upload(filename: str, payload: bytes, config_yml: bytes | None = None) -> LoadedModel:
    """Load an uploaded checkpoint through ``read_model`` from a private temporary folder.

    A pykan ``*_state`` file needs its ``*_config.yml`` beside it; pass it as ``config_yml``.
    """
    if len(payload) > MAX_UPLOAD_BYTES:
        raise SharekanError(f"{filename}: file is too large ({len(payload) / 2**20:.0f} MiB, limit "
                            f"{MAX_UPLOAD_BYTES / 2**20:.0f} MiB)")
    safe_name = Path(filename).name or "upload.safetensors"
    with tempfile.TemporaryDirectory(prefix="sharekan-upload-") as folder:
        path = Path(folder) / safe_name
        path.write_bytes(payload)
        if config_yml is not None:
            stem = safe_name[: -len("_state")] if safe_name.endswith("_state") else Path(safe_name).stem
            (Path(folder) / f"{stem}_config.yml").write_bytes(config_yml)
        return read_model(path)


def model_summary(model: KAN) -> dict:
    """Architecture, edge count, coefficients per edge and dense FP32 bytes of ``model``."""
    dense = dense_storage(model)
    first = model.layers[0]
    return {
        "widths": [first.in_features, *(layer.out_features for layer in model.layers)],
        "layers": len(model.layers),
        "edges": model.num_edges,
        "grid_size": first.grid_size,
        "spline_order": first.spline_order,
        "coefficients_per_edge": first.num_coefficients,
        "dense_bytes": sum(sum(row.values()) for row in dense.values()),
    }


def layer_table(model: KAN) -> pd.DataFrame:
    """One row per layer: shape, edges, dense bytes and the coefficient statistics reviewers asked for."""
    dense = dense_storage(model)
    rows = []
    for stats in coefficient_statistics(model):
        out_features, in_features, coefficients = stats["shape"]
        rows.append({
            "layer": stats["layer"],
            "in -> out": f"{in_features} -> {out_features}",
            "edges": stats["edges"],
            "dense KB": sum(dense[str(stats["layer"])].values()) / 1e3,
            "coef mean": stats["mean"],
            "coef std": stats["std"],
            "excess kurtosis": stats["kurtosis"],
            "coef min": stats["min"],
            "coef max": stats["max"],
            "|coef| p99": stats["abs_p99"],
            "gain median": stats["gain_median"],
            "gain p99": stats["gain_p99"],
            "support": f"[{stats['grid_min']:.3g}, {stats['grid_max']:.3g}]",
        })
    return pd.DataFrame(rows)


def format_bytes(size: float) -> str:
    """Human-readable decimal size: 1.23 MB, 456 kB, 78 B."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(size) >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} B"


def results_stem(model_key: str) -> str | None:
    """The saved-results file stem of the shipped model at path ``model_key``; None for uploads."""
    return next((model.results_stem for model in shipped_models() if str(model.path) == model_key), None)


def shipped_detection_head() -> ShippedModel | None:
    """The shipped KAN detection head, once it exists."""
    return next((model for model in shipped_models() if model.task == "detection"), None)
