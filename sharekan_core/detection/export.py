"""The whole detector (backbone, adapter, KAN head, box decoding) as one ExecuTorch program.

Non-maximum suppression keeps data-dependent shapes, so the program stops at raw decoded boxes
and scores; ``PteDetector`` runs it and applies the same post-processing as eager.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import nn

from ..errors import SharekanError
from .anchors import generate_anchors
from .boxes import decode_boxes
from .detector import Detection, Detector
from .preprocess import INPUT_SIZE, to_input, to_rgb


class DetectorGraph(nn.Module):
    """(1, 3, 300, 300) preprocessed pixels -> (boxes (1917, 4) normalized xyxy, sigmoid scores (1917, 21))."""

    def __init__(self, detector: Detector):
        super().__init__()
        self.features = detector.features
        self.predictor = detector.predictor
        self.register_buffer("anchors", generate_anchors())

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run backbone and head, decode boxes against the anchors."""
        logits, encodings = self.predictor(self.features(pixels))
        return decode_boxes(encodings[0], self.anchors), torch.sigmoid(logits[0])


def export_detector(detector: Detector, path: str | Path, xnnpack: bool = True) -> int:
    """Export ``detector`` (with whatever head it holds) to a ``.pte`` written atomically; return its size."""
    from ..runtime.executorch_export import export_program

    example = (torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),)
    return export_program(DetectorGraph(detector), example, path, xnnpack)


class PteDetector:
    """Detections from a detector ``.pte``, post-processed exactly as the eager ``Detector`` does."""

    def __init__(self, path: str | Path, postprocessing: Detector):
        from ..runtime.executorch_export import check_pte_file

        check_pte_file(path)
        from executorch.runtime import Runtime

        self.method = Runtime.get().load_program(Path(path)).load_method("forward")
        if self.method is None:
            raise SharekanError(f"{Path(path).name}: program has no 'forward' method")
        self.postprocessing = postprocessing

    def raw_outputs(self, image: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        """(boxes (1917, 4), scores (1917, 21)) for one image, from the program."""
        # to_input is a permuted view (channels-last strides); a program reads memory in its own order.
        boxes, scores = self.method.execute([to_input(to_rgb(image)).contiguous()])
        return boxes, scores

    def detect(self, image: Image.Image, score: float = 0.5) -> list[Detection]:
        """Detections with score >= ``score`` in pixels of ``image``."""
        return self.postprocessing.detections_from_outputs(*self.raw_outputs(image), image.size, score)


def sample_image(path: str | Path | None, photos_dir: str | Path) -> Image.Image:
    """An image to check a program on: ``path``, or the first photo in ``photos_dir`` resized to 320x320."""
    from .preprocess import load_image

    if path is not None:
        return load_image(path)
    photos = sorted(Path(photos_dir).glob("*.jpg"))
    if not photos:
        raise SharekanError(f"no photos under {photos_dir}; pass --image")
    return load_image(photos[0]).resize((320, 320))


def compare_detections(eager: list[Detection], program: list[Detection]) -> dict:
    """Whether two detection lists agree: same labels in order, and the largest box and score differences."""
    same = len(eager) == len(program) and all(a.label == b.label for a, b in zip(eager, program))
    box = max((abs(x - y) for a, b in zip(eager, program) for x, y in zip(a.box, b.box)), default=0.0)
    score = max((abs(a.score - b.score) for a, b in zip(eager, program)), default=0.0)
    return {"eager_detections": len(eager), "program_detections": len(program), "same_labels": same,
            "max_box_difference_px": box, "max_score_difference": score}
