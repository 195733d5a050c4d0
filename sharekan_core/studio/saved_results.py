"""Experiment results saved under assets/ by scripts/make_assets.py, read so pages show them instantly.

Kinds: ``sweeps`` (K x bits x seeds, pruning baseline), ``transfer`` (zero-shot codebook transfer)
and ``scaling`` (N heads sharing one codebook, checked against real bundle files).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..experiments.provenance import earlier_version_note, file_sha256  # noqa: F401 (the pages')
from ..paths import settings

REQUIRED_KEYS = {"sweeps": ("points", "metric_label"), "transfer": ("source", "target", "rows"),
                 "scaling": ("curve", "file_checks", "codebook_size", "bits")}


def saved_result(kind: str, stem: str | None, folder: Path | None = None) -> dict | None:
    """The document ``<folder>/<kind>/<stem>.json`` (``folder``: the settings' assets folder by default);
    None when absent, unreadable or missing its keys."""
    if stem is None:
        return None
    path = (folder or settings().assets_dir) / kind / f"{stem}.json"
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or any(key not in document for key in REQUIRED_KEYS[kind]):
        return None
    return document
