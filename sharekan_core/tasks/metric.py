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
        from .digits import digits_accuracy, load_digits_split

        split = load_digits_split()
        return TaskMetric("accuracy", "held-out accuracy on scikit-learn digits",
                          lambda module: digits_accuracy(module, split)["accuracy"])
    if task == "detection":
        from ..detection.detector import load_detector  # heavy; detection only
        from ..detection.evaluate import teacher_agreement, voc_map

        if data is None:
            return TaskMetric("map50", "mAP@0.5 agreement with the SSD teacher on held-out real photos",
                              lambda module: teacher_agreement(load_detector(module))["map50"])
        return TaskMetric("map50", f"mAP@0.5 against PASCAL VOC ground truth at {data}",
                          lambda module: voc_map(load_detector(module), data)["map50"])
    raise SharekanError(f"unknown task {task!r}; expected 'digits' or 'detection'")
