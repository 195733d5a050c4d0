"""Where the studio and the scripts find their files: one frozen settings object.

The library itself takes folders as arguments; only the studio, the command line's defaults and
the scripts read them from here. ``SHAREKAN_HOME`` names a folder holding ``sample_models/`` and
``assets/`` (default: this checkout); ``SHAREKAN_MODELS_DIR`` and ``SHAREKAN_ASSETS_DIR`` move
each one on its own. The environment is read on every call, so a test overrides a folder with
``monkeypatch.setenv``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..tasks.detection import DetectorFiles

CHECKOUT = Path(__file__).resolve().parents[2]
DETECTOR_FOLDER = "ssd_mobilenet_v2"


@dataclass(frozen=True)
class Settings:
    """The studio's folders: the home they default under, shipped models, and assets (saved results, photos)."""

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
        from ..tasks.detection import DetectorFiles

        return DetectorFiles.in_folder(self.detector_dir, self.home)


def settings() -> Settings:
    """The settings from the environment, defaulting to this checkout's folders."""
    home = Path(os.environ.get("SHAREKAN_HOME") or CHECKOUT)
    return Settings(home=home, models_dir=Path(os.environ.get("SHAREKAN_MODELS_DIR") or home / "sample_models"),
                    assets_dir=Path(os.environ.get("SHAREKAN_ASSETS_DIR") or home / "assets"))
