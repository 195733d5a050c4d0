"""The names of the detector's files inside its folder, and how they are read (safetensors only).

The folder itself is always an argument (the studio's settings name the shipped one)."""
from __future__ import annotations

import re
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from ..errors import SharekanError

FEATURES_FILE = "feature_extractor.safetensors"
TEACHER_FILE = "teacher_predictor_voc.safetensors"
ADAPTER_FILE = "location_adapter.safetensors"
HEAD_FILE = "kan_head.safetensors"
HELDOUT_REFERENCE_FILE = "teacher_heldout_detections.json"
# A head trained with its own adapter names it in its metadata: a plain file name in the detector folder.
ADAPTER_NAME = re.compile(r"location_adapter[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)?\.safetensors")


def adapter_file(metadata: dict | None) -> str:
    """The location adapter a head was trained with: its metadata's ``adapter`` (a ``location_adapter*.safetensors``
    file name inside the detector folder, never a path), else the folder's shared one."""
    name = (metadata or {}).get("adapter", ADAPTER_FILE)
    if not isinstance(name, str) or not ADAPTER_NAME.fullmatch(name):
        raise SharekanError(f"the head's metadata names the adapter {name!r}; expected a location_adapter*.safetensors "
                            "file name inside the detector folder")
    return name


def heldout_reference_file(labels) -> str:
    """The held-out teacher reference's file name for a label set (``labels.name``)."""
    return HELDOUT_REFERENCE_FILE if labels.name == "voc" else \
        HELDOUT_REFERENCE_FILE.replace(".json", f"_{labels.name.replace('-', '_')}.json")


def heldout_photo_dir(labels) -> str | None:
    """The folder (inside the detector folder) of the photos held out for a label set's own head; None for
    VOC, whose held-out photos are the studio's bundled photos (assets/photos)."""
    return None if labels.name == "voc" else f"heldout_{labels.name.replace('-', '_')}"


def teacher_file(labels) -> str:
    """The teacher predictor's file name for a label set (``labels.name``): the VOC one ships."""
    return TEACHER_FILE if labels.name == "voc" else f"teacher_predictor_{labels.name.replace('-', '_')}.safetensors"


def load_weights(module: nn.Module, path: Path) -> nn.Module:
    """Load a safetensors state dict into ``module`` (strict) and return it in eval mode."""
    if not path.is_file():
        raise SharekanError(f"{path}: detector weights missing (run scripts/convert_ssd.py)")
    module.load_state_dict(load_file(str(path)))
    return module.eval()
