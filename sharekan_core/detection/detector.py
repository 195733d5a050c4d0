"""The detection pipeline: image -> frozen SSD backbone -> a head -> boxes in pixels."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from ..errors import SharekanError
from .anchors import generate_anchors
from .boxes import PostprocessConfig, decode_boxes, postprocess
from .conv_predictor import ConvBoxPredictor
from .kan_head import HeadPredictor, LocationAdapter, check_head_shape
from .labels import VOC, LabelSet
from .mobilenet_ssd import SSDFeatureExtractor
from .preprocess import load_image, to_input, to_rgb
from .weights import ADAPTER_FILE, FEATURES_FILE, HEAD_FILE, adapter_file, load_weights, teacher_file


@dataclass(frozen=True)
class Detection:
    """One detected object: class label, sigmoid score, and (x1, y1, x2, y2) in image pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict:
        """JSON-ready form: {"label", "score", "box"}."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


class Detector:
    """SSD-MobileNetV2 features plus a predictor mapping them to class logits (``labels``, VOC by
    default) and box encodings.

    Post-processing follows OpenCV's DetectionOutput for this graph (sigmoid scores, score > 0.01,
    top 100 per class, per-class NMS at IoU 0.6, top 100 overall); boxes are clipped to the image
    only when converted to pixels.
    """

    def __init__(self, features: nn.Module, predictor: nn.Module,
                 postprocess_config: PostprocessConfig = PostprocessConfig(), labels: LabelSet = VOC):
        self.labels = labels
        self.features = features.eval()
        self.predictor = predictor.eval()
        self.postprocess_config = postprocess_config
        self.anchors = generate_anchors()

    @torch.no_grad()
    def feature_maps(self, image: Image.Image) -> list[torch.Tensor]:
        """The frozen backbone's six maps for one image (cache these to try many heads)."""
        return self.features(to_input(to_rgb(image)))

    @torch.no_grad()
    def raw_outputs(self, image: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (normalized xyxy boxes (1917, 4), sigmoid scores (1917, slots)) for one image."""
        return self.outputs_from_maps(self.feature_maps(image))

    @torch.no_grad()
    def outputs_from_maps(self, maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (boxes (1917, 4), scores (1917, slots)) from one image's backbone maps."""
        logits, encodings = self.predictor(maps)
        return decode_boxes(encodings[0], self.anchors), torch.sigmoid(logits[0])

    def detect(self, image: Image.Image, score: float = 0.5) -> list[Detection]:
        """Detections with score >= ``score``, best first, boxes in pixels of ``image``."""
        return self.detect_from_maps(self.feature_maps(image), image.size, score)

    def detect_from_maps(self, maps: list[torch.Tensor], size: tuple[int, int], score: float = 0.5) -> list[Detection]:
        """Like ``detect``, from precomputed backbone maps of an image of ``size`` (width, height)."""
        return self.detections_from_outputs(*self.outputs_from_maps(maps), size, score)

    def detections_from_outputs(self, boxes: torch.Tensor, scores: torch.Tensor, size: tuple[int, int],
                                score: float = 0.5) -> list[Detection]:
        """Post-process raw (boxes (1917, 4), scores (1917, slots)) into detections in pixels of ``size``."""
        if not 0.0 <= score <= 1.0:
            raise SharekanError(f"score must be in [0, 1], got {score}")
        boxes, det_scores, classes = postprocess(boxes, scores, self.postprocess_config)
        width, height = size
        scale = torch.tensor([width, height, width, height], dtype=boxes.dtype)
        pixels = torch.minimum(boxes.clamp(min=0) * scale, scale)
        return [Detection(self.labels.classes[int(c) - 1], float(s), tuple(round(float(v), 2) for v in b))
                for b, s, c in zip(pixels, det_scores, classes) if float(s) >= score]


@lru_cache(maxsize=4)
def _features(detector_dir: Path) -> SSDFeatureExtractor:
    return load_weights(SSDFeatureExtractor(), detector_dir / FEATURES_FILE)


@lru_cache(maxsize=4)
def _adapter(path: Path) -> LocationAdapter:
    return load_weights(LocationAdapter(), path)


def load_head(path: str | Path) -> nn.Module:
    """Load a head file, dense KAN or compressed (VOC or the other COCO classes, told by its width)."""
    return load_head_and_adapter(path)[0]


def load_head_and_adapter(path: str | Path, **source: str | None) -> tuple[nn.Module, str]:
    """A head file's module and the location adapter its metadata names (a file name in the detector folder).
    ``source`` holds ``load_runnable``'s prefix, base_activation and grid for a head in a foreign checkpoint."""
    from ..runtime import load_runnable  # deferred: the runtime pulls in the compressed format

    path = Path(path)
    runnable = load_runnable(path, **source)
    check_head_shape(runnable.in_features, runnable.out_features, path.name)
    return runnable.module.eval(), adapter_file(runnable.metadata)


def head_labels(head: nn.Module) -> LabelSet:
    """The label set a head module predicts, from its output width (a KAN's, or ``out_features``)."""
    widths = getattr(getattr(head, "config", None), "widths", None)
    in_features, out_features = (widths[0], widths[-1]) if widths else (getattr(head, "in_features", None),
                                                                        getattr(head, "out_features", None))
    if in_features is None or out_features is None:
        return VOC  # an arbitrary module (tests' stand-ins): VOC, as the shipped head
    return check_head_shape(in_features, out_features, type(head).__name__)


def load_detector(head: nn.Module | str | Path | None, detector_dir: str | Path,
                  adapter: str | Path | None = None, **source: str | None) -> Detector:
    """The detector in ``detector_dir`` with a per-location head: its dense KAN head file when ``head``
    is None, another head file, or any module.

    A module must map (N, 576) per-location vectors to (N, 150) outputs, like the dense KAN head
    (or (N, 390) for a head of the 60 other COCO classes). ``adapter`` is a location adapter file
    trained with the head (``distill_detection_head.py --train-adapter``); by default the one a head file's
    metadata names, else the folder's shared one. ``source`` (prefix, base_activation, grid) describes a head file
    that is a foreign checkpoint (see ``io.read_model``).
    """
    detector_dir = Path(detector_dir)
    named = ADAPTER_FILE
    if any(value is not None for value in source.values()) and not isinstance(head, (str, Path)):
        raise SharekanError(f"{', '.join('--' + k.replace('_', '-') for k, v in source.items() if v is not None)} "
                            "describe a head file; pass one with --head-file")
    if head is None or isinstance(head, (str, Path)):
        head, named = load_head_and_adapter(detector_dir / HEAD_FILE if head is None else head, **source)
    adapter_path = Path(adapter) if adapter is not None else detector_dir / named
    return Detector(_features(detector_dir), HeadPredictor(_adapter(adapter_path), head), labels=head_labels(head))


def load_teacher(detector_dir: str | Path, labels: LabelSet = VOC, path: str | Path | None = None) -> Detector:
    """The original SSD predictor for ``labels`` (background + their slots): the reference a KAN head distils.

    The VOC teacher ships in ``detector_dir``; another label set's is read from ``path`` (written by
    scripts/convert_ssd.py --teacher-labels).
    """
    detector_dir = Path(detector_dir)
    weights = Path(path) if path is not None else detector_dir / teacher_file(labels)
    return Detector(_features(detector_dir), load_weights(ConvBoxPredictor(labels.num_slots), weights), labels=labels)


def detect_image(path: str | Path, detector_dir: str | Path, head_path: str | Path | None = None,
                 score: float = 0.5, teacher: bool = False, **source: str | None) -> list[dict]:
    """Detect objects in an image file: [{"label", "score", "box": [x1, y1, x2, y2] pixels}], with a KAN head
    (``head_path``, else the folder's dense one; ``source`` as in ``load_detector``) or, with ``teacher``, the
    original SSD predictor."""
    if teacher and (head_path is not None or any(value is not None for value in source.values())):
        raise SharekanError("pass a head file (with what describes it) or the teacher, not both")
    image = load_image(path)
    detector = load_teacher(detector_dir) if teacher else load_detector(head_path, detector_dir, **source)
    return [d.to_dict() for d in detector.detect(image, score)]
