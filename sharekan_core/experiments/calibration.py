"""Calibration inputs for the shipped models, drawn from data kept apart from every evaluation set.

digits: the training split of scikit-learn's digits (the held-out 25 % is what accuracy is measured on).
detection: the head's per-location inputs (500 rows per image) on scikit-learn's two bundled sample
photos and their mirror images; neither photo is among the held-out photos the teacher agreement uses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SharekanError

DIGITS_ROWS = 1024
CALIBRATION_SEED = 0


def task_calibration(task: str | None, detector_dir: Path | None = None, adapter: Path | None = None) -> np.ndarray:
    """The (N, in_features) float32 calibration sample of the shipped model for ``task`` (detection reads
    the backbone in ``detector_dir`` and the head's location adapter, the folder's shared one by default)."""
    if task == "digits":
        from ..tasks import load_digits_split

        train = load_digits_split().x_train
        rows = np.random.default_rng(CALIBRATION_SEED).choice(len(train), min(DIGITS_ROWS, len(train)), replace=False)
        return train[np.sort(rows)]
    if task == "detection":
        if detector_dir is None:
            raise SharekanError("the detection calibration set needs the detector's folder")
        return detection_head_inputs(detector_dir, adapter)
    raise SharekanError(f"no calibration set for task {task!r}; give one with --calibration X.npy")


def detection_head_inputs(detector_dir: Path, adapter: Path | None = None) -> np.ndarray:
    """The detection head's inputs on scikit-learn's sample photos, as shot and mirrored: (2000, 576), through
    ``adapter`` (the folder's shared location adapter by default)."""
    import torch
    from PIL import Image, ImageOps
    from sklearn.datasets import load_sample_images

    from ..detection.detector import load_detector

    detector = load_detector(torch.nn.Identity(), detector_dir, adapter)  # only its backbone and location adapter run
    rows = []
    with torch.no_grad():
        for pixels in load_sample_images().images:
            photo = Image.fromarray(pixels)
            for image in (photo, ImageOps.mirror(photo)):
                rows.append(detector.predictor.adapter(detector.feature_maps(image))[0].numpy())
    return np.concatenate(rows).astype(np.float32)
