"""COCO-style mAP on cases with a known answer."""
from __future__ import annotations

import pytest
import torch

from sharekan_core.tasks.coco_map import mean_average_precision

TARGET = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]), "labels": torch.tensor([1, 1])}]


def prediction(boxes, scores, labels=None):
    return [{"boxes": torch.tensor(boxes, dtype=torch.float32), "scores": torch.tensor(scores),
             "labels": torch.tensor(labels or [1] * len(scores))}]


def test_perfect_predictions_score_one():
    result = mean_average_precision(prediction([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.8]), TARGET)
    assert result == {"map50": 1.0, "map": 1.0, "class_map50": {1: 1.0}}


def test_one_of_two_missed():
    # COCO's 101-point interpolation: precision 1 up to recall 0.5 -> 51 / 101.
    result = mean_average_precision(prediction([[0, 0, 10, 10]], [0.9]), TARGET)
    assert result["map50"] == pytest.approx(51 / 101)


def test_false_positive_ranked_first_halves_precision():
    result = mean_average_precision(prediction([[0, 0, 10, 10], [50, 50, 60, 60]], [0.8, 0.9]), TARGET)
    assert result["map50"] == pytest.approx(0.5 * 51 / 101)


def test_loose_box_counts_at_05_but_not_at_high_iou():
    # IoU 0.64 with the target: a hit at 0.5..0.6 (3 of COCO's 10 thresholds), a miss above.
    target = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([1])}]
    result = mean_average_precision(prediction([[0, 0, 10, 6.4]], [0.9]), target)
    assert result["map50"] == pytest.approx(1.0)
    assert result["map"] == pytest.approx(0.3)


def test_no_targets_gives_minus_one():
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    assert mean_average_precision(prediction([[0, 0, 1, 1]], [0.5]), empty) == {"map50": -1.0, "map": -1.0,
                                                                                 "class_map50": {}}


def test_per_class_ap_and_mean_over_classes_with_targets():
    target = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]), "labels": torch.tensor([1, 2])}]
    # Class 1 found, class 2 missed, class 3 has no target and is left out of the mean.
    result = mean_average_precision(prediction([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.9], [1, 3]), target)
    assert result["class_map50"] == {1: 1.0, 2: 0.0}
    assert result["map50"] == pytest.approx(0.5)
