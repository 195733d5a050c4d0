"""The task metric a sweep or transfer measures: a name, a label, and a function of a module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import SharekanError


@dataclass(frozen=True)
class TaskMetric:
    """``evaluate(module) -> float``, higher is better; ``label`` names what it is measured against."""

    name: str
    label: str
    evaluate: Callable[[torch.nn.Module], float]


def task_metric(task: str | None, data: str | None = None) -> TaskMetric:
    """Return the metric for ``task`` ('digits' or 'detection')."""
    if task == "digits":
        from ..evaluate import digits_accuracy, load_digits_split

        split = load_digits_split()
        return TaskMetric("accuracy", "held-out accuracy on scikit-learn digits",
                          lambda module: digits_accuracy(module, split)["accuracy"])
    if task == "detection":
        from ..detection.cli_support import detection_task_metric  # heavy; detection only

        return detection_task_metric(data)
    raise SharekanError(f"unknown task {task!r}; expected 'digits' or 'detection'")
