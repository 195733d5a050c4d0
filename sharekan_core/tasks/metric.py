"""The task metric a sweep or transfer measures: a name, a label, and a function of a module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

from ..errors import SharekanError

if TYPE_CHECKING:
    from .bootstrap import MatchedDetections
    from .detection import DetectorFiles


@dataclass(frozen=True)
class TaskMetric:
    """``evaluate(module) -> float``, higher is better; ``label`` names what it is measured against."""

    name: str
    label: str
    evaluate: Callable[[torch.nn.Module], float]
    # The metric and its per-class parts in one evaluation (detection: AP@0.5 per class), where a task has them.
    evaluate_by_class: Callable[[torch.nn.Module], tuple[float, dict[str, float]]] | None = None
    # Per-image matches for bootstrap intervals (detection): a module against the reference, and compressed
    # modules (by name) against their dense one (fidelity, no labels needed).
    matches: Callable[[torch.nn.Module], MatchedDetections] | None = None
    fidelity_matches: Callable[[dict[str, torch.nn.Module], torch.nn.Module], dict[str, MatchedDetections]] | None = None
    class_names: tuple[str, ...] = ()
    # The metric, its per-class parts and the per-image matches behind them, from one evaluation (detection).
    evaluate_matched: Callable[[torch.nn.Module], tuple[float, dict[str, float], MatchedDetections]] | None = None

    def measure(self, module: torch.nn.Module) -> tuple[float, dict[str, float] | None]:
        """(metric, its per-class parts or None), evaluating ``module`` once."""
        if self.evaluate_by_class is None:
            return self.evaluate(module), None
        return self.evaluate_by_class(module)

    def measure_matched(self, module: torch.nn.Module) -> tuple[float, dict[str, float] | None, MatchedDetections | None]:
        """``measure``, plus the per-image matches for bootstrap intervals where the task has them (else None),
        evaluating ``module`` once."""
        if self.evaluate_matched is None:
            return *self.measure(module), None
        return self.evaluate_matched(module)


def task_metric(task: str | None, data: str | None = None, files: DetectorFiles | None = None) -> TaskMetric:
    """Return the metric for ``task`` ('digits' or 'detection'; detection needs the detector's ``files``,
    and measures against VOC ground truth when ``data`` names a VOCdevkit folder)."""
    if task == "digits":
        from .digits import digits_accuracy, load_digits_split

        split = load_digits_split()
        return TaskMetric("accuracy", "held-out accuracy on scikit-learn digits",
                          lambda module: digits_accuracy(module, split)["accuracy"])
    if task == "detection":
        from ..detection.detector import load_detector  # heavy; detection only
        from .detection import (VOC, dense_matches, dense_reference, reference_labels, teacher_agreement_and_matches,
                                teacher_matches, voc_map)

        if files is None:
            raise SharekanError("the detection metric needs the detector's folder and held-out photos")
        if data is None:
            labels = reference_labels(files)
            classes = "" if labels is VOC else f" ({labels.title})"

            def detector(module: torch.nn.Module):
                return load_detector(module, files.detector_dir, files.adapter_path)

            def matched(module: torch.nn.Module) -> tuple[float, dict[str, float], MatchedDetections]:
                scores, matches = teacher_agreement_and_matches(detector(module), files)
                return scores["map50"], {name: float(ap) for name, ap in scores["class_map50"].items()}, matches

            def by_class(module: torch.nn.Module) -> tuple[float, dict[str, float]]:
                return matched(module)[:2]

            kept: dict = {}  # the last dense head's reference detections: a transfer's rows share one target

            def fidelity(compressed: dict, dense: torch.nn.Module) -> dict:
                if kept.get("dense") is not dense:
                    kept.update(dense=dense, reference=dense_reference(dense, files))
                return dense_matches(compressed, kept["reference"], files)

            return TaskMetric("map50", f"mAP@0.5 agreement with the SSD teacher on held-out real photos{classes}",
                              lambda module: by_class(module)[0], by_class,
                              matches=lambda module: teacher_matches(detector(module), files),
                              fidelity_matches=fidelity,
                              class_names=labels.classes, evaluate_matched=matched)
        return TaskMetric("map50", f"mAP@0.5 against PASCAL VOC ground truth at {data}",
                          lambda module: voc_map(load_detector(module, files.detector_dir, files.adapter_path), data)["map50"])
    raise SharekanError(f"unknown task {task!r}; expected 'digits' or 'detection'")
