"""Detection metrics: COCO-style mAP (faster-coco-eval, see coco_map.py) against a reference.

Three references: the SSD teacher's detections on held-out real photos ("agreement with the
SSD teacher", never VOC mAP), the dense KAN head's detections (compressed vs dense), and PASCAL
VOC ground truth when the user has VOCdevkit on disk. ``DetectorFiles`` names where the
detector's weights and the held-out photos are; nothing here works out a folder itself.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..detection.detector import Detection, Detector, load_detector, load_teacher
from ..detection.labels import LABEL_SETS, VOC, VOC_CLASSES, LabelSet
from ..detection.preprocess import load_image
from ..detection.voc import load_voc
from ..detection.weights import ADAPTER_FILE, adapter_file, heldout_reference_file
from ..errors import SharekanError
from ..progress import Progress
from .bootstrap import MatchedDetections, match_detections
from .coco_map import mean_average_precision

REFERENCE_SCORE = 0.5     # teacher / dense detections at or above this are the reference boxes
CANDIDATE_SCORE = 0.01    # every detection the post-processing keeps is ranked by the metric
FIDELITY_SCORE = 0.3      # a dense head's detections at or above this are the fidelity reference (no labels needed)
FIDELITY_REFERENCE = (f"fidelity: agreement with the head's own dense KAN head (its detections with score >= "
                      f"{FIDELITY_SCORE}) on the held-out images; needs no labels")
# The default score threshold for showing detections (the Detect page, the CLI's detect, the head check): the
# usual 0.5, since the shipped head scores the teacher's boxes on the bundled photos within 0.15 of the teacher's
# score (score_ratio_median in sample_models/ssd_mobilenet_v2/check_report.json). Heads 1 to 6 scored well below
# it and the default was 0.3.
DEFAULT_SCORE = 0.5
TEACHER_REFERENCE = "agreement with the SSD teacher (its detections with score >= 0.5, VOC classes) on held-out real photos"


@dataclass(frozen=True)
class DetectorFiles:
    """Where the detection task's files are."""

    detector_dir: Path     # backbone, teacher, adapter and KAN head weights
    reference_path: Path   # the teacher's stored detections on the held-out photos (scripts/make_teacher_reference.py)
    image_root: Path       # the folder the reference's image paths (assets/photos/...) start from
    adapter: str = ADAPTER_FILE  # the location adapter (a file name in detector_dir) the heads measured here read

    @classmethod
    def in_folder(cls, detector_dir: Path, image_root: Path, labels: LabelSet = VOC) -> DetectorFiles:
        """The files of a detector folder laid out as shipped (its held-out reference for ``labels`` inside it)."""
        return cls(Path(detector_dir), Path(detector_dir) / heldout_reference_file(labels), Path(image_root))

    def for_labels(self, labels: LabelSet) -> DetectorFiles:
        """The same folder, with the held-out reference of another label set (e.g. the second head's)."""
        return replace(DetectorFiles.in_folder(self.detector_dir, self.image_root, labels), adapter=self.adapter)

    def for_model(self, metadata: dict | None) -> DetectorFiles:
        """The same folder, with the held-out reference of the label set a model's metadata names (``labels``;
        this one's when absent) and the location adapter it names (the shared one by default)."""
        name = (metadata or {}).get("labels")
        if name is not None and name not in LABEL_SETS:
            raise SharekanError(f"the head's metadata names the label set {name!r}; expected one of "
                                f"{', '.join(LABEL_SETS)}")
        files = self if name is None else self.for_labels(LABEL_SETS[name])
        return replace(files, adapter=adapter_file(metadata))

    @property
    def adapter_path(self) -> Path:
        """The location adapter's file."""
        return self.detector_dir / self.adapter


def as_metric_dict(detections: list[Detection] | list[dict], with_scores: bool,
                   classes: tuple[str, ...] = VOC_CLASSES) -> dict[str, torch.Tensor]:
    """The metric's per-image dict (boxes xyxy, labels as indices into ``classes``, scores for predictions)."""
    rows = [d.to_dict() if isinstance(d, Detection) else d for d in detections]
    unknown = sorted({r["label"] for r in rows} - set(classes))
    if unknown:
        raise SharekanError(f"reference label(s) {', '.join(unknown)} are not among the head's classes")
    entry = {"boxes": torch.tensor([r["box"] for r in rows], dtype=torch.float32).reshape(-1, 4),
             "labels": torch.tensor([classes.index(r["label"]) for r in rows], dtype=torch.long)}
    if with_scores:
        entry["scores"] = torch.tensor([r["score"] for r in rows], dtype=torch.float32)
    return entry


def reference_labels(files: DetectorFiles) -> LabelSet:
    """The label set of the teacher detections in ``files``' reference (its ``labels`` field; VOC when the
    field, or the file, is absent: reading it for the measurement then says what is wrong)."""
    try:
        name = json.loads(files.reference_path.read_text()).get("labels", "voc")
    except (OSError, ValueError, AttributeError):
        return VOC
    return LABEL_SETS.get(name, VOC)


def load_reference(files: DetectorFiles) -> dict:
    """The stored teacher detections on the held-out images, each image's ``path`` resolved to a file."""
    if not files.reference_path.is_file():
        raise SharekanError(f"{files.reference_path}: held-out teacher reference missing "
                            "(run scripts/make_teacher_reference.py)")
    reference = json.loads(files.reference_path.read_text())
    for entry in reference["images"]:
        entry["file"] = files.image_root / entry["path"]
    return reference


@lru_cache(maxsize=64)
def _cached_maps(path: Path, detector_dir: Path) -> tuple[list[torch.Tensor], tuple[int, int]]:
    """Backbone maps of a held-out image, computed once per process (sweeps try many heads)."""
    image = load_image(path)
    return load_teacher(detector_dir).feature_maps(image), image.size


def warm_heldout_maps(files: DetectorFiles, progress: Progress | None = None) -> int:
    """Compute the held-out photos' backbone maps once per process, reporting progress; returns the photo count."""
    images = [entry["file"] for entry in load_reference(files)["images"]]
    for done, path in enumerate(images):
        if progress is not None:
            progress(done / len(images), f"backbone maps of held-out photo {done + 1} of {len(images)}")
        _cached_maps(path, files.detector_dir)
    return len(images)


def named_classes(scores: dict, classes: tuple[str, ...] = VOC_CLASSES) -> dict:
    """Replace class indices in ``class_map50`` by class names (VOC's by default)."""
    return scores | {"class_map50": {classes[k]: v for k, v in scores["class_map50"].items()}}


def ranked_against_reference(detector: Detector, images: list[Path], reference: list[list[dict]], detector_dir: Path,
                             reference_score: float = REFERENCE_SCORE) -> tuple[list[dict], list[dict]]:
    """(predictions, targets) in the metric's per-image layout: every candidate the post-processing keeps, and
    the reference detections with score >= ``reference_score``."""
    classes = detector.labels.classes
    predictions = []
    for path in images:
        maps, size = _cached_maps(path, detector_dir)
        predictions.append(as_metric_dict(detector.detect_from_maps(maps, size, CANDIDATE_SCORE), True, classes))
    targets = [as_metric_dict([d for d in dets if d["score"] >= reference_score], False, classes) for dets in reference]
    return predictions, targets


def map_against_reference(detector: Detector, images: list[Path], reference: list[list[dict]],
                          detector_dir: Path) -> dict:
    """mAP@0.5 and mAP@[.5:.95] of ``detector`` on ``images`` against per-image reference detections
    (those with score >= REFERENCE_SCORE), ranking every candidate the post-processing keeps."""
    predictions, targets = ranked_against_reference(detector, images, reference, detector_dir)
    return named_classes(mean_average_precision(predictions, targets), detector.labels.classes) | {"images": len(images)}


def dense_reference(dense: nn.Module, files: DetectorFiles, reference_score: float = FIDELITY_SCORE) -> list[list[dict]]:
    """A dense head's detections (score >= ``reference_score``) on each held-out image: the fidelity reference."""
    dense_detector = load_detector(dense, files.detector_dir, files.adapter_path)
    return [[d.to_dict() for d in dense_detector.detect_from_maps(*_cached_maps(entry["file"], files.detector_dir),
                                                                  reference_score)]
            for entry in load_reference(files)["images"]]


def dense_matches(compressed: dict[str, nn.Module], reference: list[list[dict]], files: DetectorFiles,
                  reference_score: float = FIDELITY_SCORE) -> dict[str, MatchedDetections]:
    """Fidelity, which needs no labels: each ``compressed`` head's detections on the held-out images matched to
    a dense head's (``dense_reference``)."""
    images = [entry["file"] for entry in load_reference(files)["images"]]
    return {name: match_detections(*ranked_against_reference(load_detector(module, files.detector_dir,
                                                                           files.adapter_path),
                                                             images, reference, files.detector_dir, reference_score))
            for name, module in compressed.items()}


def teacher_agreement(detector: Detector, files: DetectorFiles) -> dict:
    """Agreement of ``detector`` with the SSD teacher's stored detections on the held-out images."""
    return teacher_agreement_and_matches(detector, files)[0]


def teacher_agreement_and_matches(detector: Detector, files: DetectorFiles) -> tuple[dict, MatchedDetections]:
    """``teacher_agreement``, and the same detections matched per image (for bootstrap intervals), from one pass."""
    reference = load_reference(files)
    if reference.get("labels", "voc") != detector.labels.name:
        raise SharekanError(f"the head predicts the {detector.labels.name} classes; {files.reference_path.name} "
                            f"holds the teacher's {reference.get('labels', 'voc')} detections")
    images = [entry["file"] for entry in reference["images"]]
    predictions, targets = ranked_against_reference(detector, images, [e["detections"] for e in reference["images"]],
                                                    files.detector_dir)
    scores = named_classes(mean_average_precision(predictions, targets), detector.labels.classes)
    return (scores | {"images": len(images), "reference": reference.get("reference", TEACHER_REFERENCE)},
            match_detections(predictions, targets))


def teacher_matches(detector: Detector, files: DetectorFiles) -> MatchedDetections:
    """``detector``'s detections on the held-out images matched to the teacher's stored ones (for intervals)."""
    return teacher_agreement_and_matches(detector, files)[1]


def compressed_vs_dense(compressed: nn.Module, files: DetectorFiles, dense: nn.Module | None = None) -> dict:
    """Agreement of a compressed head with the dense head (``dense``, or the folder's dense KAN head file;
    its detections >= 0.5) on the held-out images."""
    # the folder's head file reads the adapter it names; a dense module given here reads the files' adapter
    dense_detector = load_detector(dense, files.detector_dir, None if dense is None else files.adapter_path)
    images = [entry["file"] for entry in load_reference(files)["images"]]
    reference = [[d.to_dict() for d in dense_detector.detect_from_maps(*_cached_maps(p, files.detector_dir),
                                                                       REFERENCE_SCORE)] for p in images]
    scores = map_against_reference(load_detector(compressed, files.detector_dir, files.adapter_path), images, reference,
                                   files.detector_dir)
    return scores | {"reference": "agreement with the dense KAN head (its detections with score >= 0.5) on held-out real photos"}


def voc_map(detector: Detector, voc_root: str | Path, split: str = "test", limit: int | None = None) -> dict:
    """mAP against PASCAL VOC ground truth read from VOCdevkit ('difficult' objects are ignored regions)."""
    samples = load_voc(voc_root, split, limit)
    predictions, targets = [], []
    for sample in samples:
        predictions.append(as_metric_dict(detector.detect(load_image(sample.image_path), CANDIDATE_SCORE), True))
        target = as_metric_dict([{"label": l, "box": b} for l, b in zip(sample.labels, sample.boxes)], False)
        target["iscrowd"] = torch.tensor(sample.difficult, dtype=torch.long)
        targets.append(target)
    scores = named_classes(mean_average_precision(predictions, targets))
    return scores | {"images": len(samples), "reference": f"PASCAL VOC ground truth ({split} split at {voc_root})"}


def evaluate_detection(files: DetectorFiles, head: nn.Module | None = None, data: str | None = None) -> dict:
    """Evaluate a head (the folder's dense KAN by default): teacher agreement, or VOC mAP if ``data`` is a VOCdevkit."""
    detector = load_detector(head, files.detector_dir, None if head is None else files.adapter_path)
    if data is None:
        return teacher_agreement(detector, files if detector.labels is VOC else files.for_labels(detector.labels))
    return voc_map(detector, data)
