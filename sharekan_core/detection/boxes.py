"""Box decoding, IoU and class-wise NMS for SSD outputs (no torchvision needed)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

# TF's FasterRcnnBoxCoder scale factors (ty, tx, th, tw); OpenCV calls them variances 0.1/0.2.
BOX_SCALES: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)


def decode_boxes(encodings: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Decode (..., N, 4) encodings (ty, tx, th, tw) against (N, 4) anchors (cy, cx, h, w).

    Returns (..., N, 4) boxes as (x1, y1, x2, y2), normalized to the image, unclipped.
    """
    ty, tx, th, tw = (encodings[..., i] / BOX_SCALES[i] for i in range(4))
    acy, acx, ah, aw = anchors.unbind(-1)
    cy, cx = ty * ah + acy, tx * aw + acx
    h, w = torch.exp(th) * ah, torch.exp(tw) * aw
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def encode_boxes(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Inverse of ``decode_boxes``: (N, 4) xyxy boxes -> (N, 4) encodings (ty, tx, th, tw)."""
    acy, acx, ah, aw = anchors.unbind(-1)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = boxes[:, 0] + w / 2, boxes[:, 1] + h / 2
    parts = ((cy - acy) / ah, (cx - acx) / aw, torch.log(h / ah), torch.log(w / aw))
    return torch.stack([p * s for p, s in zip(parts, BOX_SCALES)], dim=-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every (x1, y1, x2, y2) box in (N, 4) ``a`` with every box in (M, 4) ``b``: (N, M)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS: indices of kept boxes, highest score first; drops boxes with IoU > threshold."""
    order = torch.argsort(scores, descending=True, stable=True)
    overlaps = box_iou(boxes[order], boxes[order]) > iou_threshold
    alive = torch.ones(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if alive[i]:
            keep.append(i)
            alive &= ~overlaps[i]
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """Class-wise NMS in one pass: boxes of different classes never suppress each other."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long)
    # Shift each class to its own region so cross-class IoU is zero.
    offset = (boxes.max() - boxes.min() + 1) * classes.to(boxes.dtype)
    return nms(boxes + offset[:, None], scores, iou_threshold)


@dataclass(frozen=True)
class PostprocessConfig:
    """OpenCV DetectionOutput's settings for this graph (the convention this port follows)."""

    score_threshold: float = 0.01
    iou_threshold: float = 0.6
    top_k_per_class: int = 100
    keep_top_k: int = 100


def postprocess(boxes: torch.Tensor, scores: torch.Tensor,
                config: PostprocessConfig = PostprocessConfig()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Select final detections of one image from (N, 4) boxes and (N, C) sigmoid scores.

    Column 0 of ``scores`` is background and is skipped. Returns (boxes (D, 4), scores (D,),
    classes (D,) in 1..C-1), best first. Boxes stay unclipped, as OpenCV's output.
    """
    cand_boxes, cand_scores, cand_classes = [], [], []
    for cls in range(1, scores.shape[1]):
        above = torch.nonzero(scores[:, cls] > config.score_threshold).squeeze(1)
        top = above[torch.argsort(scores[above, cls], descending=True, stable=True)[: config.top_k_per_class]]
        cand_boxes.append(boxes[top])
        cand_scores.append(scores[top, cls])
        cand_classes.append(torch.full((len(top),), cls, dtype=torch.long))
    cand_boxes, cand_scores, cand_classes = torch.cat(cand_boxes), torch.cat(cand_scores), torch.cat(cand_classes)
    keep = batched_nms(cand_boxes, cand_scores, cand_classes, config.iou_threshold)[: config.keep_top_k]
    return cand_boxes[keep], cand_scores[keep], cand_classes[keep]
