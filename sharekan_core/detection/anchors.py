"""SSD-MobileNetV2's 1917 anchors, following the graph's constants (not OpenCV's rounded pbtxt)."""
from __future__ import annotations

import math

import torch

from .mobilenet_ssd import FEATURE_SIZES

SCALES: tuple[float, ...] = (0.2, 0.35, 0.5, 0.65, 0.8, 0.95)
RATIOS: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
ANCHORS_PER_LOCATION: tuple[int, ...] = (3, 6, 6, 6, 6, 6)
MAX_ANCHORS_PER_LOCATION = max(ANCHORS_PER_LOCATION)
NUM_ANCHORS = 1917


def anchor_shapes(level: int) -> list[tuple[float, float]]:
    """Return the (width, height) of each anchor at one location of feature map ``level``."""
    if level == 0:
        # TF's reduce_boxes_in_lowest_layer: a small square, then min_scale at ratios 2 and 1/2.
        specs = [(0.1, 1.0), (SCALES[0], 2.0), (SCALES[0], 0.5)]
    else:
        scale = SCALES[level]
        scale_next = SCALES[level + 1] if level + 1 < len(SCALES) else 1.0
        specs = [(scale, r) for r in RATIOS] + [(math.sqrt(scale * scale_next), 1.0)]
    return [(s * math.sqrt(r), s / math.sqrt(r)) for s, r in specs]


def generate_anchors() -> torch.Tensor:
    """Return (1917, 4) anchors as (cy, cx, h, w), normalized, ordered (map, y, x, anchor)."""
    rows = []
    for level, size in enumerate(FEATURE_SIZES):
        centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        shapes = torch.tensor(anchor_shapes(level), dtype=torch.float64)  # (A, 2) as (w, h)
        count = size * size
        per_level = torch.stack([
            cy.reshape(-1, 1).expand(count, len(shapes)),
            cx.reshape(-1, 1).expand(count, len(shapes)),
            shapes[:, 1].expand(count, -1),
            shapes[:, 0].expand(count, -1),
        ], dim=-1)
        rows.append(per_level.reshape(-1, 4))
    return torch.cat(rows).float()
