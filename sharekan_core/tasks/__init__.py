"""Task metrics, one home: digits accuracy (scikit-learn) and the detection metrics (faster-coco-eval mAP
against a reference, and the greedy-matching F1 of two detection lists)."""
from .digits import DIGITS_SPLIT_SEED, DigitsSplit, digits_accuracy, load_digits_split
from .metric import TaskMetric, task_metric

__all__ = ["DIGITS_SPLIT_SEED", "DigitsSplit", "TaskMetric", "digits_accuracy", "load_digits_split", "task_metric"]
