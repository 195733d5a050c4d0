"""What the CLI and the experiments need from the detection task, in their own terms."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from ..errors import SharekanError
from ..experiments.task_metric import TaskMetric
from .evaluate import TEACHER_REFERENCE, evaluate_detection
from .kan_head import check_head_shape


def evaluate_detection_cli(runnable, data: str | None) -> dict:
    """``evaluate --task detection``: map50, map and the reference, for a dense or compressed head."""
    check_head_shape(runnable.in_features, runnable.out_features)
    if data is not None and not Path(data).is_dir():
        raise SharekanError(f"{data}: not a folder (expected a VOCdevkit with Annotations/ and JPEGImages/)")
    return {**evaluate_detection(runnable.module, data), "kind": runnable.kind}


def detection_task_metric(data: str | None = None) -> TaskMetric:
    """mAP@0.5 of a head: agreement with the SSD teacher, or VOC mAP when ``data`` is a VOCdevkit."""
    label = TEACHER_REFERENCE if data is None else f"PASCAL VOC mAP@0.5 ({data})"

    def evaluate(module: nn.Module) -> float:
        return evaluate_detection(module, data)["map50"]

    return TaskMetric("map50", label, evaluate)
