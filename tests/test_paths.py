"""sharekan_core.paths: the project's folders, read from the environment, and the one home of them."""
from __future__ import annotations

import re
from pathlib import Path

from sharekan_core import paths
from sharekan_core.studio import settings as studio_settings

ROOT = Path(__file__).resolve().parents[1]


def test_settings_default_to_the_checkout_and_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SHAREKAN_HOME", raising=False)
    monkeypatch.delenv("SHAREKAN_MODELS_DIR", raising=False)
    monkeypatch.delenv("SHAREKAN_ASSETS_DIR", raising=False)
    assert paths.settings().models_dir == ROOT / "sample_models"
    monkeypatch.setenv("SHAREKAN_HOME", str(tmp_path))
    monkeypatch.setenv("SHAREKAN_ASSETS_DIR", str(tmp_path / "elsewhere"))
    folders = paths.settings()
    assert folders.models_dir == tmp_path / "sample_models"
    assert folders.detector_dir == tmp_path / "sample_models" / paths.DETECTOR_FOLDER
    assert folders.photos_dir == tmp_path / "elsewhere" / "photos"


def test_bundled_photos_are_the_photo_files_sorted(tmp_path):
    for name in ("b.JPG", "a.png", "notes.txt", "c.webp"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in paths.bundled_photos(tmp_path)] == ["a.png", "b.JPG", "c.webp"]
    assert paths.bundled_photos(tmp_path / "missing") == []


def test_the_studio_reads_the_same_settings():
    assert studio_settings.settings is paths.settings and studio_settings.Settings is paths.Settings


def test_only_the_studio_and_the_pages_import_the_studio():
    """The CLI, scripts and benches take paths from sharekan_core.paths, not from the studio layer."""
    importers = [path.relative_to(ROOT) for folder in ("sharekan_core", "scripts", "bench")
                 for path in (ROOT / folder).rglob("*.py")
                 if "studio" not in path.relative_to(ROOT).parts
                 and re.search(r"^\s*from (sharekan_core)?\.*studio\b|^\s*import sharekan_core\.studio",
                               path.read_text(), flags=re.M)]
    assert importers == []
