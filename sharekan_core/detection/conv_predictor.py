"""SSD's original box predictor: per feature map, two 3x3 convolutions (class logits, box encodings)."""
from __future__ import annotations

import torch
from torch import nn

from .anchors import ANCHORS_PER_LOCATION
from .mobilenet_ssd import FEATURE_CHANNELS


def flatten_per_anchor(x: torch.Tensor, anchors: int) -> torch.Tensor:
    """(B, A*K, H, W) conv output -> (B, H*W*A, K), in the graph's (y, x, anchor) order."""
    b, _, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, h * w * anchors, -1)


class ConvBoxPredictor(nn.Module):
    """The teacher: 3x3 conv heads giving (B, 1917, num_slots) logits and (B, 1917, 4) encodings.

    ``num_slots`` is 91 for the full COCO graph, or 21 for the background + VOC slots kept in
    the shipped teacher. Box encodings are in TF's order (ty, tx, th, tw).
    """

    def __init__(self, num_slots: int):
        super().__init__()
        self.num_slots = num_slots
        self.class_convs = nn.ModuleList(
            nn.Conv2d(c, a * num_slots, 3, padding=1) for c, a in zip(FEATURE_CHANNELS, ANCHORS_PER_LOCATION))
        self.box_convs = nn.ModuleList(
            nn.Conv2d(c, a * 4, 3, padding=1) for c, a in zip(FEATURE_CHANNELS, ANCHORS_PER_LOCATION))

    def forward(self, maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logits (B, 1917, num_slots), encodings (B, 1917, 4))."""
        logits, encodings = [], []
        for fmap, cls_conv, box_conv, a in zip(maps, self.class_convs, self.box_convs, ANCHORS_PER_LOCATION):
            logits.append(flatten_per_anchor(cls_conv(fmap), a))
            encodings.append(flatten_per_anchor(box_conv(fmap), a))
        return torch.cat(logits, 1), torch.cat(encodings, 1)
