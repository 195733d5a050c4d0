"""Which version of a model file a saved result was measured on: the file's SHA-256, and a note when it changed."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex (what make_assets records as ``model_sha256``), hashed once per
    version of the file (a page rerun does not reread a 20 MB head)."""
    stat = Path(path).stat()
    return _file_sha256(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def earlier_version_note(document: dict, model_path: str | Path) -> str | None:
    """A plain note when ``document`` was measured on another version of the model file than the one at
    ``model_path`` (its recorded ``model_sha256`` differs); None when it matches or nothing is recorded."""
    recorded = document.get("model_sha256")
    if not recorded or not Path(model_path).is_file() or file_sha256(model_path) == recorded:
        return None
    commit = str(document.get("model_commit") or "")[:10]
    return (f"Measured on an earlier version of this model ({'commit ' + commit + ', ' if commit else ''}file SHA-256 "
            f"{recorded[:12]}); the shipped file has changed since. The comparison between methods holds for that "
            "version; rerun scripts/make_assets.py --only methods to measure the current one.")
