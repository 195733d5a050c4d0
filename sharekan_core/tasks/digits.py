"""scikit-learn's bundled digits (1,797 8x8 images): the fixed split and accuracy of a KAN on it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

DIGITS_SPLIT_SEED = 0
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class DigitsSplit:
    """Inputs scaled to [-1, 1] (float32, (n, 64)) and integer labels, train and held-out test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed: int = DIGITS_SPLIT_SEED) -> DigitsSplit:
    """Return the stratified 75/25 split used to train and evaluate the digits KAN."""
    digits = load_digits()
    x = (digits.data / 16.0 * 2.0 - 1.0).astype(np.float32)  # pixels 0..16 -> the grid range [-1, 1]
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=TEST_FRACTION,
                                                        random_state=seed, stratify=digits.target)
    return DigitsSplit(x_train, y_train, x_test, y_test)


def digits_accuracy(module: torch.nn.Module, split: DigitsSplit | None = None) -> dict:
    """Held-out accuracy of ``module`` (64 inputs -> 10 logits) on the digits test split."""
    split = split or load_digits_split()
    with torch.no_grad():
        logits = module(torch.from_numpy(split.x_test))
    predictions = logits.argmax(dim=1).numpy()
    return {"task": "digits", "accuracy": float(accuracy_score(split.y_test, predictions)),
            "samples": int(len(split.y_test)), "reference": "scikit-learn digits held-out labels (25%, seed 0)"}
