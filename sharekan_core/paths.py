"""Where the command line, the scripts, the benches and the studio find their files: one frozen object.

The library itself takes folders as arguments; only callers at the top (the CLI's defaults, scripts,
benches, the studio) read them from here. ``SHAREKAN_HOME`` names a folder holding ``sample_models/``
and ``assets/`` (default: this checkout); ``SHAREKAN_MODELS_DIR`` and ``SHAREKAN_ASSETS_DIR`` move each
one on its own. The environment is read on every call, so a test overrides a folder with
``monkeypatch.setenv``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tasks.detection import DetectorFiles

CHECKOUT = Path(__file__).resolve().parents[1]
DETECTOR_FOLDER = "ssd_mobilenet_v2"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class Settings:
    """The project's folders: the home they default under, shipped models, and assets (saved results, photos)."""

    home: Path         # the held-out reference's image paths (assets/photos/...) start here
    models_dir: Path   # sample_models/: digits KANs, ssd_mobilenet_v2/ (detector weights and KAN heads)
    assets_dir: Path   # assets/: sweeps/, transfer/, scaling/, operating_points/, photos/

    @property
    def detector_dir(self) -> Path:
        """The SSD-MobileNetV2 backbone, teacher, adapter, KAN heads and held-out reference."""
        return self.models_dir / DETECTOR_FOLDER

    @property
    def photos_dir(self) -> Path:
        """Bundled photos for the Detect page and for checking exported programs."""
        return self.assets_dir / "photos"

    @property
    def detector_files(self) -> DetectorFiles:
        """The detector folder, and the folder the held-out reference's ``assets/photos/...`` paths start from."""
        from .tasks.detection import DetectorFiles  # the one name paths needs from above; imported when asked for

        return DetectorFiles.in_folder(self.detector_dir, self.home)


def settings() -> Settings:
    """The settings from the environment, defaulting to this checkout's folders."""
    home = Path(os.environ.get("SHAREKAN_HOME") or CHECKOUT)
    return Settings(home=home, models_dir=Path(os.environ.get("SHAREKAN_MODELS_DIR") or home / "sample_models"),
                    assets_dir=Path(os.environ.get("SHAREKAN_ASSETS_DIR") or home / "assets"))


@dataclass(frozen=True)
class ShippedModel:
    """A model file in sample_models/, the name the studio shows, its task, and its saved results' file stem."""

    name: str
    path: Path
    task: str
    results_stem: str  # assets/{sweeps,transfer,scaling}/<stem>.json, written by scripts/make_assets.py


def shipped_models() -> list[ShippedModel]:
    """Shipped models in the settings' folders that exist on disk, the detection head first (the studio's default)."""
    folders = settings()
    candidates = [
        ShippedModel("SSD detection head (KAN, 20 VOC classes)", folders.detector_dir / "kan_head.safetensors",
                     "detection", "detection_head"),
        ShippedModel("Digits classifier (KAN 64-32-10)", folders.models_dir / "digits_kan.safetensors", "digits",
                     "digits_kan"),
        # The second head (the cross-task transfer's target); its own teacher is not shipped.
        ShippedModel("SSD detection head (KAN, 60 other COCO classes)",
                     folders.detector_dir / "kan_head_coco_extra.safetensors", "detection", "detection_head_coco_extra"),
    ]
    return [model for model in candidates if model.path.is_file()]


def shipped_path(stem: str | None) -> Path | None:
    """The file of the shipped model whose saved results are named ``stem``; None for uploads."""
    return next((model.path for model in shipped_models() if stem is not None and model.results_stem == stem), None)


def bundled_photos(folder: Path | None = None) -> list[Path]:
    """The real photos in ``folder`` (default: the settings' photos folder), sorted by name."""
    folder = folder or settings().photos_dir
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) if folder.is_dir() else []
