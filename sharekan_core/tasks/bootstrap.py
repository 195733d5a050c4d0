"""Confidence intervals over images for mAP@0.5: a seeded bootstrap that resamples the held-out images.

The matching (which detection hits which reference box at IoU >= 0.5) is faster-coco-eval's COCOeval, run
once per head. Each resample then only re-weights images: an image drawn w times counts its detections and
reference boxes w times, and AP is COCO's 101-point interpolated precision over the re-weighted ranking.
``test_bootstrap.py`` holds that to COCOeval run on the duplicated images themselves.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from faster_coco_eval import COCOeval_faster

from .coco_map import _coco_dataset

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
_RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class MatchedDetections:
    """One head's ranked detections on N images, each marked as matching a reference box or not."""

    image: np.ndarray      # (D,) image index of each detection
    label: np.ndarray      # (D,) class index
    score: np.ndarray      # (D,) score
    matched: np.ndarray    # (D,) bool: a true positive at IoU 0.5 (COCOeval's greedy matching)
    boxes: np.ndarray      # (N, C) reference boxes of each class on each image
    classes: tuple[int, ...]  # the class index of each column of ``boxes``

    @property
    def images(self) -> int:
        """Number of images."""
        return self.boxes.shape[0]


def match_detections(predictions: list[dict[str, torch.Tensor]], targets: list[dict[str, torch.Tensor]]) -> MatchedDetections:
    """Match per-image predictions to per-image reference boxes with COCOeval at IoU 0.5 (100 per image)."""
    classes = sorted({int(v) for entry in predictions + targets for v in entry["labels"].tolist()})
    ground_truth = _coco_dataset(targets, classes, with_scores=False)
    detections = _coco_dataset(predictions, classes, with_scores=True)
    evaluator = COCOeval_faster(ground_truth, detections, iouType="bbox", print_function=lambda *a, **k: None)
    evaluator.params.iouThrs = np.array([0.5])
    evaluator.params.maxDets = [100]
    evaluator.params.areaRng, evaluator.params.areaRngLbl = [[0.0, 1e10]], ["all"]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    hits = {int(key.split("_", 1)[0]) for key in evaluator.eval["matched"]}
    annotations = [detections.anns[k] for k in sorted(detections.anns)]
    boxes = np.zeros((len(targets), len(classes)), dtype=np.int64)
    for i, entry in enumerate(targets):
        for label in entry["labels"].tolist():
            boxes[i, classes.index(int(label))] += 1
    return MatchedDetections(image=np.array([a["image_id"] for a in annotations], dtype=np.int64),
                             label=np.array([a["category_id"] for a in annotations], dtype=np.int64),
                             score=np.array([a["score"] for a in annotations], dtype=np.float64),
                             matched=np.array([a["id"] in hits for a in annotations], dtype=bool),
                             boxes=boxes, classes=tuple(classes))


def map50(matches: MatchedDetections, weights: np.ndarray | None = None) -> float:
    """mAP@0.5 with each image counted ``weights[i]`` times (all once by default); NaN with no reference box."""
    weights = np.ones(matches.images) if weights is None else np.asarray(weights, dtype=np.float64)
    precisions = []
    for column, label in enumerate(matches.classes):
        positives = float(weights @ matches.boxes[:, column])
        if positives == 0:
            continue  # COCO leaves classes without reference boxes out of the mean
        mine = matches.label == label
        if not mine.any():  # reference boxes but no detection of the class: AP 0, as COCOeval gives
            precisions.append(0.0)
            continue
        order = np.argsort(-matches.score[mine], kind="mergesort")
        counts = weights[matches.image[mine][order]]
        hit = matches.matched[mine][order]
        true_pos, false_pos = np.cumsum(counts * hit), np.cumsum(counts * ~hit)
        recall = true_pos / positives
        precision = true_pos / np.maximum(true_pos + false_pos, np.finfo(np.float64).eps)
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # COCO's interpolated envelope
        at = np.searchsorted(recall, _RECALL_POINTS, side="left")
        sampled = np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0)
        precisions.append(sampled.mean())
    return float(np.mean(precisions)) if precisions else float("nan")


def resample_weights(images: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, images): how often each image is drawn in each bootstrap resample (with replacement)."""
    draws = np.random.default_rng(seed).integers(0, images, size=(resamples, images))
    return np.stack([np.bincount(row, minlength=images) for row in draws]).astype(np.float64)


def interval(samples: np.ndarray, level: float = LEVEL) -> list[float]:
    """The central ``level`` percentile interval of bootstrap samples (NaN resamples left out)."""
    tail = 100 * (1 - level) / 2
    return [round(float(v), 4) for v in np.nanpercentile(samples, [tail, 100 - tail])]


def verdict(low: float, high: float, dense: float) -> str:
    """Words for an interval against the dense value: 'no measurable loss' when it includes dense."""
    if low <= dense <= high:
        return "no measurable loss"
    return "loss" if high < dense else "above dense"


Runs = dict[str, "MatchedDetections | Sequence[MatchedDetections]"]


def _members(run: MatchedDetections | Sequence[MatchedDetections]) -> list[MatchedDetections]:
    return [run] if isinstance(run, MatchedDetections) else list(run)


def figures_with_intervals(runs: Runs, dense: str, seed: int = SEED, resamples: int = RESAMPLES) -> dict:
    """Every run's mAP@0.5 with its interval, and each non-dense run's change against ``dense`` and retention
    (run / dense), paired over the same resampled images.

    A run given as several matches (one per seed) is their mean mAP@0.5, in every resample as on the full set.
    """
    members = {name: _members(run) for name, run in runs.items()}
    images = members[dense][0].images
    if any(m.images != images for group in members.values() for m in group):
        raise ValueError("every run must be matched on the same images")
    weights = resample_weights(images, resamples, seed)
    samples = {name: np.mean([[map50(m, w) for w in weights] for m in group], axis=0) for name, group in members.items()}
    points = {name: float(np.mean([map50(m) for m in group])) for name, group in members.items()}
    figures = {"bootstrap": {"resamples": resamples, "seed": seed, "level": LEVEL, "over": f"{images} images"}}
    for name in runs:
        figures[name] = {"map50": round(points[name], 4), "ci95": interval(samples[name])}
        if name == dense:
            continue
        change = interval(samples[name] - samples[dense])
        with np.errstate(divide="ignore", invalid="ignore"):
            retention = interval(samples[name] / samples[dense])
        figures[name] |= {"change_vs_dense": round(points[name] - points[dense], 4), "change_ci95": change,
                          "retained": round(points[name] / points[dense], 4) if points[dense] else None,
                          "retained_ci95": retention, "verdict": verdict(change[0], change[1], 0.0)}
    return figures


def boxes_per_class(matches: MatchedDetections, names: tuple[str, ...]) -> dict[str, int]:
    """Reference boxes of each class (by name) behind the figures."""
    return {names[label]: int(matches.boxes[:, k].sum()) for k, label in enumerate(matches.classes)
            if matches.boxes[:, k].sum()}
