"""The studio's folders: the project's paths (``sharekan_core.paths``), under the name the pages use."""
from __future__ import annotations

from ..paths import CHECKOUT, DETECTOR_FOLDER, Settings, settings

__all__ = ["CHECKOUT", "DETECTOR_FOLDER", "Settings", "settings"]
