"""The SSD port against OpenCV's stored run of the original graph on a full-size photo (OpenCV resizing it as
the reference pipeline does), the port's resize against OpenCV's, and the anchors it uses."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from sharekan_core.detection.anchors import NUM_ANCHORS, generate_anchors
from sharekan_core.detection.boxes import box_iou, postprocess
from sharekan_core.detection.detector import load_teacher
from sharekan_core.detection.labels import VOC_COCO_SLOTS
from sharekan_core.detection.preprocess import load_image, resize_bilinear, to_input
from sharekan_core.studio.settings import settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "ssd_opencv_reference.json").read_text())


@pytest.fixture(scope="module")
def teacher_outputs():
    return load_teacher(settings().detector_dir).raw_outputs(load_image(ROOT / FIXTURE["image"]))


def test_anchor_count_and_values():
    anchors = generate_anchors()
    assert anchors.shape == (NUM_ANCHORS, 4) == (1917, 4)
    # (cy, cx, h, w): first 19x19 cell's small square, then scale 0.2 at ratio 2.
    assert torch.allclose(anchors[0], torch.tensor([0.5 / 19, 0.5 / 19, 0.1, 0.1]))
    assert torch.allclose(anchors[1], torch.tensor([0.5 / 19, 0.5 / 19, 0.2 / math.sqrt(2), 0.2 * math.sqrt(2)]))
    # First anchor of the 10x10 map, and the last anchor: 1x1 map, sqrt(0.95 * 1.0) square.
    assert torch.allclose(anchors[19 * 19 * 3], torch.tensor([0.05, 0.05, 0.35, 0.35]))
    assert torch.allclose(anchors[-1], torch.tensor([0.5, 0.5, math.sqrt(0.95), math.sqrt(0.95)]))
    # Ratio 1/3 follows the graph's 0.3333, not OpenCV's 0.333.
    assert anchors[-2, 2].item() == pytest.approx(0.95 / math.sqrt(0.3333), rel=1e-6)


def test_port_scores_match_opencv(teacher_outputs):
    _, scores = teacher_outputs
    ours = scores[:, 1:].max(dim=1).values
    reference = torch.tensor(FIXTURE["max_voc_score_per_anchor"])
    assert (ours - reference).abs().max().item() < 1e-4


def test_port_detections_match_opencv(teacher_outputs):
    boxes, scores = teacher_outputs
    det_boxes, det_scores, det_classes = postprocess(boxes, scores)
    expected = FIXTURE["detections_score_ge_0.3_voc"]
    assert expected, "fixture should hold at least one detection"
    ours = det_scores >= 0.3
    assert int(ours.sum()) == len(expected)
    for ref in expected:
        cls = VOC_COCO_SLOTS.index(ref["coco_id"])
        same = ours & (det_classes == cls)
        assert same.any(), f"OpenCV's class {ref['coco_id']} missing"
        ious = box_iou(torch.tensor([ref["box"]]), det_boxes[same])[0]
        best = int(ious.argmax())
        assert ious[best].item() > 0.99
        assert det_scores[same][best].item() == pytest.approx(ref["score"], abs=1e-4)


@pytest.mark.parametrize("shape", [(705, 1024), (342, 548), (264, 360), (288, 384), (3000, 4000), (150, 75),
                                   (301, 299), (2, 3), (1, 1), (1, 900)])
def test_resize_equals_opencv(shape):
    """Downscaling, upscaling along either axis, and degenerate sizes: pixel-equal to cv2.resize INTER_LINEAR."""
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert np.array_equal(resize_bilinear(pixels), cv2.resize(pixels, (300, 300), interpolation=cv2.INTER_LINEAR))


def test_input_equals_opencv_blob_on_full_size_photos():
    """The graph's input from every bundled photo at its full size is OpenCV's blobFromImage (the reference
    pipeline), scaled x * 2/255 - 1 as the graph does inside."""
    for path in sorted((ROOT / "assets" / "photos").glob("*.jpg")):
        image = load_image(path)
        rgb = np.asarray(image)
        blob = cv2.dnn.blobFromImage(rgb[:, :, ::-1].copy(), size=(300, 300), swapRB=True)
        expected = torch.from_numpy(blob) * (2.0 / 255.0) - 1.0
        assert torch.equal(to_input(image), expected), path.name
