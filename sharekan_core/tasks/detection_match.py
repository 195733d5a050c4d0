"""Greedy matching of two detection lists on one image: which detections agree (same label, IoU >= 0.5),
and the precision, recall and F1 of one list against the other. The Detect page compares heads with it;
the ranked metric over many images is ``tasks.detection`` (mAP through faster-coco-eval)."""
from __future__ import annotations

import torch

from ..detection.boxes import box_iou

MATCH_IOU = 0.5


def matched_pairs(reference: list, candidate: list, iou: float = MATCH_IOU) -> list[tuple[int, int]]:
    """Greedy one-to-one matches (reference index, candidate index): same label, IoU >= ``iou``,
    the most confident reference detections first, each taking its best-overlapping candidate."""
    if not reference or not candidate:
        return []
    overlaps = box_iou(torch.tensor([r.box for r in reference]), torch.tensor([c.box for c in candidate]))
    used, pairs = set(), []
    for ref_index in sorted(range(len(reference)), key=lambda i: -reference[i].score):
        best, best_iou = None, iou
        for index, cand in enumerate(candidate):
            if index in used or cand.label != reference[ref_index].label:
                continue
            if float(overlaps[ref_index, index]) >= best_iou:
                best, best_iou = index, float(overlaps[ref_index, index])
        if best is not None:
            used.add(best)
            pairs.append((ref_index, best))
    return pairs


def match_f1(reference: list, candidate: list, iou: float = MATCH_IOU) -> dict:
    """Greedy one-to-one matching by label and IoU: matched count, precision, recall and F1 of ``candidate``
    against ``reference`` (two detection lists on one image; a count of matches, not an mAP)."""
    matched = len(matched_pairs(reference, candidate, iou))
    precision = matched / len(candidate) if candidate else 1.0
    recall = matched / len(reference) if reference else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"reference": len(reference), "candidate": len(candidate), "matched": matched,
            "precision": precision, "recall": recall, "f1": f1}


def disagreements(first: list, second: list, iou: float = MATCH_IOU) -> tuple[set[int], set[int]]:
    """Indices of the detections in ``first`` and in ``second`` that the other list has no match for."""
    pairs = matched_pairs(first, second, iou)
    return (set(range(len(first))) - {a for a, _ in pairs}, set(range(len(second))) - {b for _, b in pairs})
