"""Wiring a per-location head (a KAN) into SSD in place of the 3x3 conv box predictor.

The head itself is a plain ``sharekan_core.model.KAN``: one feature vector per location in,
predictions for that location's anchors out. Everything around it that is not a KAN lives in
``LocationAdapter`` (stored next to the backbone): a 1x1 reduction of each feature map to a
common width, tanh into the KAN grid range, and a 3x3 unfold so the head sees the same
neighbourhood the original 3x3 predictor saw.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SharekanError
from ..model import KAN, KANConfig
from .anchors import ANCHORS_PER_LOCATION, MAX_ANCHORS_PER_LOCATION
from .labels import LABEL_SETS, NUM_VOC_SLOTS, VOC, LabelSet
from .mobilenet_ssd import FEATURE_CHANNELS, FEATURE_SIZES

REDUCED_WIDTH = 64                      # channels per map after the 1x1 reduction
HEAD_INPUTS = 9 * REDUCED_WIDTH         # 3x3 neighbourhood of reduced features = 576
OUTPUTS_PER_ANCHOR = NUM_VOC_SLOTS + 4  # 21 class logits, then (ty, tx, th, tw)
HEAD_OUTPUTS = MAX_ANCHORS_PER_LOCATION * OUTPUTS_PER_ANCHOR  # 150 (the VOC head)
HEAD_HIDDEN = 448
LOCATIONS_PER_MAP: tuple[int, ...] = tuple(s * s for s in FEATURE_SIZES)  # 361, 100, 25, 9, 4, 1


def head_outputs(labels: LabelSet = VOC) -> int:
    """Outputs per location of a head for ``labels``: 6 anchors x (class logits + 4 box numbers)."""
    return MAX_ANCHORS_PER_LOCATION * (labels.num_slots + 4)


def check_head_shape(in_features: int, out_features: int, name: str = "model") -> LabelSet:
    """The label set of a head mapping 576 per-location inputs to one label set's outputs (150 for
    VOC, 390 for the 60 other COCO classes); SharekanError otherwise."""
    by_width = {head_outputs(labels): labels for labels in LABEL_SETS.values()}
    if in_features != HEAD_INPUTS or out_features not in by_width:
        raise SharekanError(f"{name}: a detection head maps {HEAD_INPUTS} -> {HEAD_OUTPUTS} (VOC) or "
                            f"{head_outputs(LABEL_SETS['coco-extra'])} (other COCO classes), "
                            f"this one is {in_features} -> {out_features}")
    return by_width[out_features]


def head_config(hidden: int = HEAD_HIDDEN, labels: LabelSet = VOC) -> KANConfig:
    """The dense KAN head's architecture: [576, hidden, 150 for VOC], cubic, G = 10."""
    return KANConfig(widths=(HEAD_INPUTS, hidden, head_outputs(labels)), grid_size=10, spline_order=3)


def build_kan_head(hidden: int = HEAD_HIDDEN, labels: LabelSet = VOC) -> KAN:
    """A freshly initialised dense KAN head."""
    return KAN(head_config(hidden, labels))


class LocationAdapter(nn.Module):
    """Six feature maps -> one (B, 500, 576) tensor of per-location vectors in (-1, 1)."""

    def __init__(self, width: int = REDUCED_WIDTH):
        super().__init__()
        self.reduce = nn.ModuleList(nn.Conv2d(c, width, 1) for c in FEATURE_CHANNELS)

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """Return (B, L, 9 * width), locations in (map, y, x) order, L = 361+100+25+9+4+1."""
        vectors = []
        for fmap, reduce in zip(maps, self.reduce):
            # tanh keeps the KAN's inputs inside its spline grid [-1, 1].
            reduced = torch.tanh(reduce(fmap))
            patches = F.unfold(reduced, kernel_size=3, padding=1)  # (B, 9*width, H*W)
            vectors.append(patches.transpose(1, 2))
        return torch.cat(vectors, dim=1)


def split_location_outputs(outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 500, 6 x (S + 4)) per-location head outputs -> (logits (B, 1917, S), encodings (B, 1917, 4)).

    S is the label set's slot count (21 for VOC). Each location predicts 6 anchors; the 19x19 map
    has only 3, so it uses the first 3.
    """
    width = outputs.shape[-1] // MAX_ANCHORS_PER_LOCATION
    per_anchor = outputs.reshape(outputs.shape[0], outputs.shape[1], MAX_ANCHORS_PER_LOCATION, width)
    parts, start = [], 0
    for size_sq, anchors in zip(LOCATIONS_PER_MAP, ANCHORS_PER_LOCATION):
        parts.append(per_anchor[:, start:start + size_sq, :anchors].reshape(outputs.shape[0], -1, width))
        start += size_sq
    flat = torch.cat(parts, dim=1)
    return flat[..., :width - 4], flat[..., width - 4:]


class HeadPredictor(nn.Module):
    """Adapter + any per-location head: six maps -> (logits (B, 1917, S), encodings (B, 1917, 4))."""

    def __init__(self, adapter: LocationAdapter, head: nn.Module):
        super().__init__()
        self.adapter = adapter
        self.head = head

    def forward(self, maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the head on every location's vector and regroup its outputs per anchor."""
        vectors = self.adapter(maps)
        batch, locations, width = vectors.shape
        outputs = self.head(vectors.reshape(batch * locations, width))
        return split_location_outputs(outputs.reshape(batch, locations, -1))


def merge_anchor_outputs(per_anchor: torch.Tensor) -> torch.Tensor:
    """Inverse of ``split_location_outputs``: (B, 1917, K) -> (B, 500, 6, K), absent anchors zero."""
    batch, _, width = per_anchor.shape
    parts, start = [], 0
    for locations, anchors in zip(LOCATIONS_PER_MAP, ANCHORS_PER_LOCATION):
        block = per_anchor[:, start:start + locations * anchors].reshape(batch, locations, anchors, width)
        parts.append(F.pad(block, (0, 0, 0, MAX_ANCHORS_PER_LOCATION - anchors)))
        start += locations * anchors
    return torch.cat(parts, dim=1)
