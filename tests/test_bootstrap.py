"""The bootstrap's re-weighted mAP@0.5 against COCOeval on the resampled images themselves, and its intervals."""
import numpy as np
import pytest
import torch

from sharekan_core.tasks.bootstrap import (figures_with_intervals, map50, match_detections, resample_weights,
                                           verdict)
from sharekan_core.tasks.coco_map import mean_average_precision


def synthetic_images(seed: int, images: int = 12, classes: int = 4):
    """Reference boxes and noisy scored predictions (some misses, some extras) on ``images`` images."""
    rng = np.random.default_rng(seed)
    predictions, targets = [], []
    for _ in range(images):
        count = int(rng.integers(0, 5))
        xy = rng.uniform(0, 200, (count, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(20, 80, (count, 2))], axis=1)
        labels = rng.integers(0, classes, count)
        targets.append({"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        "labels": torch.tensor(labels, dtype=torch.long)})
        kept = rng.random(count) < 0.8
        noisy = boxes[kept] + rng.normal(0, 6, (int(kept.sum()), 4))
        extra = int(rng.integers(0, 3))
        exy = rng.uniform(0, 200, (extra, 2))
        noisy = np.concatenate([noisy, np.concatenate([exy, exy + 40], axis=1)])
        predicted = np.concatenate([labels[kept], rng.integers(0, classes, extra)])
        predictions.append({"boxes": torch.tensor(noisy, dtype=torch.float32).reshape(-1, 4),
                            "labels": torch.tensor(predicted, dtype=torch.long),
                            "scores": torch.tensor(rng.uniform(0.05, 1.0, len(predicted)), dtype=torch.float32)})
    return predictions, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reweighted_map_equals_cocoeval_on_the_duplicated_images(seed):
    predictions, targets = synthetic_images(seed)
    matches = match_detections(predictions, targets)
    assert map50(matches) == pytest.approx(mean_average_precision(predictions, targets)["map50"], abs=1e-12)
    for weights in resample_weights(len(targets), resamples=5, seed=seed):
        drawn = [i for i, w in enumerate(weights) for _ in range(int(w))]
        expected = mean_average_precision([predictions[i] for i in drawn], [targets[i] for i in drawn])["map50"]
        assert map50(matches, weights) == pytest.approx(expected, abs=1e-12)


def test_resamples_are_seeded_and_keep_the_image_count():
    first, again = resample_weights(30, 50, seed=3), resample_weights(30, 50, seed=3)
    assert np.array_equal(first, again) and (first.sum(axis=1) == 30).all()
    assert not np.array_equal(first, resample_weights(30, 50, seed=4))


def test_intervals_pair_the_runs_and_say_no_measurable_loss_when_they_include_dense():
    predictions, targets = synthetic_images(5, images=20)
    dense = match_detections(predictions, targets)
    figures = figures_with_intervals({"dense": dense, "same": dense}, "dense", resamples=200)
    assert figures["same"]["change_ci95"] == [0.0, 0.0] and figures["same"]["retained_ci95"] == [1.0, 1.0]
    assert figures["same"]["verdict"] == "no measurable loss"
    low, high = figures["dense"]["ci95"]
    assert low <= figures["dense"]["map50"] <= high and low < high
    assert verdict(-0.05, -0.01, 0.0) == "loss" and verdict(0.01, 0.03, 0.0) == "above dense"


def test_a_class_with_boxes_but_no_detection_scores_zero_as_cocoeval_does():
    predictions, targets = synthetic_images(7)
    targets[0] = {"boxes": torch.tensor([[0.0, 0.0, 30.0, 30.0]]), "labels": torch.tensor([9])}  # class 9: never predicted
    matches = match_detections(predictions, targets)
    expected = mean_average_precision(predictions, targets)["map50"]
    assert map50(matches) == pytest.approx(expected, abs=1e-12)
    assert np.isfinite(figures_with_intervals({"dense": matches}, "dense", resamples=20)["dense"]["ci95"]).all()


def test_a_run_of_several_seeds_is_their_mean_in_every_resample():
    predictions, targets = synthetic_images(11, images=16)
    dense = match_detections(predictions, targets)
    worse = match_detections(*synthetic_images(12, images=16)[:1], targets)  # another head's guesses on the same images
    weights = resample_weights(16, resamples=50, seed=1)
    figures = figures_with_intervals({"dense": dense, "seeds": [dense, worse]}, "dense", seed=1, resamples=50)
    assert figures["seeds"]["map50"] == pytest.approx(round((map50(dense) + map50(worse)) / 2, 4), abs=1e-12)
    expected = [(map50(dense, w) + map50(worse, w)) / 2 - map50(dense, w) for w in weights]
    assert figures["seeds"]["change_ci95"] == pytest.approx(list(np.percentile(expected, [2.5, 97.5])), abs=1e-4)
    with pytest.raises(ValueError, match="same images"):
        figures_with_intervals({"dense": dense, "short": match_detections(predictions[:8], targets[:8])}, "dense")
