"""Task quality in the studio: which metric a model gets, the user's own evaluation set, and
function-space fidelity for a model without a known task.

A model with a known task gets its task metric (digits accuracy, detection agreement with the
teacher); a user model gets accuracy or MSE on an uploaded ``X.npy`` / ``y.npy``; any model can be
measured by how closely the compressed model's outputs follow the dense model's on sample inputs.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import SharekanError
from ..model import KAN
from ..progress import Progress
from ..tasks import TaskMetric, task_metric
from .models import content_key
from .settings import settings

if TYPE_CHECKING:  # the detection task is heavy and imported only when a detection head is measured
    from ..tasks.detection import DetectorFiles

KNOWN_TASKS = ("digits", "detection")
SAMPLE_INPUTS = 512
MAX_EVALUATION_ROWS = 1_000_000


@dataclass(frozen=True)
class EvaluationSet:
    """A user's labelled inputs: X (N, in_features) float32 and y (N,) labels or (N, out) targets."""

    inputs: np.ndarray
    targets: np.ndarray
    kind: str  # 'classification' (integer labels, accuracy) or 'regression' (MSE)
    key: str   # content hash of the two uploaded files: results measured on it are kept under it


@dataclass(frozen=True)
class Measure:
    """How a model is scored: the metric, whether higher is better, and how its number is written."""

    metric: TaskMetric
    higher_is_better: bool = True
    percent: bool = False
    files: DetectorFiles | None = None  # detection: the detector folder and held-out reference the metric reads

    def format(self, value: float) -> str:
        """The value as the studio writes it: 97.6 % for accuracies and fidelities, 4 significant digits otherwise."""
        return f"{value:.1%}" if self.percent else f"{value:.4g}"

    def format_change(self, change: float, value: float) -> str:
        """``change`` written to the precision ``format`` writes ``value`` in: points for percentages, else as
        many decimals as the value shows (never '-2.364e-07' beside '0.0123')."""
        if self.percent:
            return f"{change * 100:+.1f} points"
        text = self.format(value)
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else None
        return f"{change:+.{decimals}f}" if decimals is not None else f"{change:+.3g}"


def read_evaluation_set(x_payload: bytes, y_payload: bytes, model: KAN) -> EvaluationSet:
    """Parse uploaded ``X.npy`` and ``y.npy`` (no pickles) and check them against ``model``'s widths."""
    inputs, targets = (_read_npy(payload, name) for payload, name in ((x_payload, "X.npy"), (y_payload, "y.npy")))
    key = content_key(x_payload, y_payload)
    in_features, out_features = model.layers[0].in_features, model.layers[-1].out_features
    if inputs.ndim != 2 or inputs.shape[1] != in_features:
        raise SharekanError(f"X.npy must have shape (N, {in_features}) for this model, got {inputs.shape}")
    if not 0 < len(inputs) <= MAX_EVALUATION_ROWS:
        raise SharekanError(f"X.npy must have 1 to {MAX_EVALUATION_ROWS:,} rows, got {len(inputs):,}")
    if len(targets) != len(inputs):
        raise SharekanError(f"y.npy has {len(targets):,} rows but X.npy has {len(inputs):,}")
    if not (np.issubdtype(inputs.dtype, np.number) and np.isfinite(inputs).all()):
        raise SharekanError("X.npy must hold finite numbers")
    if np.issubdtype(targets.dtype, np.integer) and targets.ndim == 1:
        if targets.min() < 0 or targets.max() >= out_features:
            raise SharekanError(f"y.npy class labels must lie in 0..{out_features - 1} (the model's outputs)")
        return EvaluationSet(inputs.astype(np.float32), targets.astype(np.int64), "classification", key)
    targets = targets.reshape(len(targets), -1) if targets.ndim == 1 else targets
    if targets.shape[1] != out_features or not np.issubdtype(targets.dtype, np.number) \
            or not np.isfinite(targets).all():
        raise SharekanError(f"y.npy must be integer class labels (N,) or finite targets (N, {out_features})")
    return EvaluationSet(inputs.astype(np.float32), targets.astype(np.float32), "regression", key)


def _read_npy(payload: bytes, name: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except Exception:  # numpy raises ValueError, OSError or EOFError depending on the damage
        raise SharekanError(f"{name} is not a readable .npy array (object arrays are refused)") from None


def evaluation_set_measure(evaluation: EvaluationSet) -> Measure:
    """Accuracy on a classification set, MSE on a regression set."""
    inputs = torch.from_numpy(evaluation.inputs)
    targets = torch.from_numpy(evaluation.targets)
    rows = f"{len(inputs):,} rows"
    if evaluation.kind == "classification":
        def accuracy(module: torch.nn.Module) -> float:
            with torch.no_grad():
                return float((module(inputs).argmax(dim=1) == targets).double().mean())
        return Measure(TaskMetric("accuracy", f"accuracy on your evaluation set ({rows})", accuracy), percent=True)

    def mse(module: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(((module(inputs) - targets) ** 2).mean())
    return Measure(TaskMetric("mse", f"mean squared error on your evaluation set ({rows})", mse), higher_is_better=False)


def sample_inputs(model: KAN, count: int = SAMPLE_INPUTS, seed: int = 0) -> np.ndarray:
    """``count`` inputs drawn uniformly inside each input's spline grid (the domain the model was fit on)."""
    first = model.layers[0]
    grid = first.grid.detach().double().numpy()  # (in, G + 2k + 1)
    order = first.spline_order
    low, high = grid[:, order], grid[:, -order - 1]
    return np.random.default_rng(seed).uniform(low, high, size=(count, len(low))).astype(np.float32)


def fidelity_measure(model: KAN, inputs: np.ndarray | None = None) -> Measure:
    """Output fidelity against the dense ``model``: 1 − ‖f̂(x) − f(x)‖ / ‖f(x)‖ over ``inputs`` (sampled if None)."""
    inputs = torch.from_numpy(sample_inputs(model) if inputs is None else inputs.astype(np.float32))
    with torch.no_grad():
        reference = model.eval()(inputs)
    scale = float(reference.norm()) or 1.0

    def fidelity(module: torch.nn.Module) -> float:
        with torch.no_grad():
            return 1.0 - float((module(inputs) - reference).norm()) / scale
    label = f"output fidelity: 1 − relative L2 error of the outputs against the dense model ({len(inputs):,} inputs)"
    return Measure(TaskMetric("output_fidelity", label, fidelity), percent=True)


def task_measure(task: str | None, metadata: dict | None = None) -> Measure | None:
    """The known task's metric (digits accuracy, detection agreement with the teacher, through the location
    adapter the model's ``metadata`` names); None for other tasks."""
    if task not in KNOWN_TASKS:
        return None
    files = settings().detector_files.for_model(metadata) if task == "detection" else None
    return Measure(task_metric(task, files=files), percent=task == "digits", files=files)


def measure_for(model: KAN, task: str | None, evaluation: EvaluationSet | None,
                metadata: dict | None = None) -> Measure:
    """What the studio scores a model by: the evaluation set the user uploaded, else its task, else output
    fidelity on sample inputs drawn inside its grid."""
    if evaluation is not None:
        return evaluation_set_measure(evaluation)
    return task_measure(task, metadata) or fidelity_measure(model)


def measure_description(task: str | None, has_evaluation_set: bool = False) -> str:
    """In words, what ``measure_for`` will measure for a model with ``task``, and roughly how long it takes."""
    if has_evaluation_set:
        return "accuracy or MSE on the evaluation set you uploaded on the Model page"
    if task == "detection":
        return ("mAP@0.5 agreement with the SSD teacher on the held-out photos (a minute or more on a small "
                "machine; the first time also computes their backbone maps)")
    if task == "digits":
        return "held-out accuracy on scikit-learn digits (about a second)"
    return ("how closely the compressed outputs follow the dense ones on inputs drawn inside the model's grid "
            "(about a second); upload an evaluation set on the Model page for accuracy or MSE")


def score(measure: Measure, module: torch.nn.Module, task: str | None = None,
          progress: Progress | None = None) -> float:
    """``measure`` on ``module``; for detection, first computes (once per process) the held-out backbone maps."""
    if task == "detection":
        from ..tasks.detection import warm_heldout_maps  # heavy; detection only

        warm_heldout_maps(measure.files or settings().detector_files, progress)  # the photos the metric reads
    if progress is not None:
        progress(1.0, f"measuring {measure.metric.label}")
    return measure.metric.evaluate(module.eval())
