"""The detection pipeline end to end: shipped files, pluggable heads, teacher agreement."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch import nn

from sharekan_core.detection import detect_image, load_detector, load_teacher
from sharekan_core.detection.kan_head import HEAD_INPUTS, HEAD_OUTPUTS
from sharekan_core.detection.preprocess import load_image
from sharekan_core.detection.weights import HEAD_FILE
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model, save_model
from sharekan_core.model import KAN, KANConfig
from sharekan_core.studio.settings import settings
from sharekan_core.tasks.detection import teacher_agreement

FOLDERS = settings()
DETECTOR_DIR = FOLDERS.detector_dir
PHOTO = FOLDERS.photos_dir / "messi5.jpg"


def test_dense_head_is_a_plain_kan_model_file():
    loaded = read_model(DETECTOR_DIR / HEAD_FILE)
    assert type(loaded.model) is KAN
    assert loaded.model.config.widths == (HEAD_INPUTS, 448, HEAD_OUTPUTS)
    assert loaded.model.config.grid_size == 10 and loaded.model.config.spline_order == 3
    assert loaded.model.num_edges >= 300_000
    assert loaded.metadata["task"] == "detection"


def test_detect_image_gives_labelled_pixel_boxes():
    detections = detect_image(PHOTO, DETECTOR_DIR, score=0.3)
    assert detections and all(set(d) == {"label", "score", "box"} for d in detections)
    assert "person" in {d["label"] for d in detections}
    for d in detections:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 <= x2 <= 548 and 0 <= y1 <= y2 <= 342 and d["score"] >= 0.3


def test_any_module_can_be_the_head():
    class Silent(nn.Module):
        """Every class logit at -8 (sigmoid 3e-4): below the 0.01 threshold everywhere."""

        def forward(self, x):
            return torch.full((x.shape[0], HEAD_OUTPUTS), -8.0)

    assert load_detector(Silent(), DETECTOR_DIR).detect(load_image(PHOTO), score=0.01) == []


def test_wrong_shape_head_is_refused(tmp_path):
    save_model(KAN(KANConfig((4, 3))), tmp_path / "small.safetensors")
    with pytest.raises(SharekanError, match="576 -> 150"):
        load_detector(tmp_path / "small.safetensors", DETECTOR_DIR)


def test_a_head_reads_the_adapter_it_was_trained_with(tmp_path):
    """--train-adapter runs write their own location adapter: load_detector takes it instead of the folder's."""
    from safetensors.torch import load_file, save_file

    from sharekan_core.detection.weights import ADAPTER_FILE

    class Echo(nn.Module):
        """Passes the adapter's first 150 vector entries through, so the outputs show which adapter ran."""

        def forward(self, x):
            return x[:, :HEAD_OUTPUTS]

    maps = load_detector(Echo(), DETECTOR_DIR).feature_maps(load_image(PHOTO))
    shipped = load_detector(Echo(), DETECTOR_DIR).predictor(maps)[0]
    weights = load_file(str(DETECTOR_DIR / ADAPTER_FILE))
    save_file({k: torch.zeros_like(v) for k, v in weights.items()}, str(tmp_path / ADAPTER_FILE))
    own = load_detector(Echo(), DETECTOR_DIR, adapter=tmp_path / ADAPTER_FILE).predictor(maps)[0]
    assert shipped.abs().max() > 0.1 and own.abs().max() == 0  # tanh(0) everywhere
    with pytest.raises(SharekanError, match="missing"):
        load_detector(Echo(), DETECTOR_DIR, adapter=tmp_path / "absent.safetensors")


def test_teacher_agrees_with_its_own_reference(tmp_path):
    files = FOLDERS.detector_files
    reference = json.loads(files.reference_path.read_text())
    reference["images"] = reference["images"][:3]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(reference))
    result = teacher_agreement(load_teacher(DETECTOR_DIR), replace(files, reference_path=path))
    assert result["map50"] == pytest.approx(1.0) and result["map"] == pytest.approx(1.0)
    assert result["images"] == 3 and "SSD teacher" in result["reference"]


def test_a_head_of_the_other_coco_classes_is_told_by_its_width(tmp_path):
    from sharekan_core.detection.labels import COCO_EXTRA
    from sharekan_core.tasks.detection import as_metric_dict

    class Silent(nn.Module):
        in_features, out_features = HEAD_INPUTS, 390  # read by load_detector to pick the label set

        def forward(self, x):
            return torch.full((x.shape[0], 390), -8.0)

    head = KAN(KANConfig((HEAD_INPUTS, 4, 390)))
    detector = load_detector(head, DETECTOR_DIR)
    assert detector.labels is COCO_EXTRA
    assert {d.label for d in detector.detect(load_image(PHOTO), score=0.0)} <= set(COCO_EXTRA.classes)
    # the second head's stored reference: only its classes, on the VOC held-out images and its own photos
    files = FOLDERS.detector_files.for_labels(COCO_EXTRA)
    reference = json.loads(files.reference_path.read_text())
    labels = {d["label"] for entry in reference["images"] for d in entry["detections"]}
    assert reference["labels"] == "coco-extra" and labels and labels <= set(COCO_EXTRA.classes)
    assert all((FOLDERS.detector_files.image_root / entry["path"]).is_file() for entry in reference["images"])
    kept = [entry for entry in reference["images"] if entry["detections"]][:2]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(reference | {"images": kept}))
    silent = teacher_agreement(load_detector(Silent(), DETECTOR_DIR), replace(files, reference_path=path))
    assert silent["map50"] == 0.0 and "60 COCO classes" in silent["reference"]
    # the metric's label follows the reference's own label set, whatever its file is called
    from sharekan_core.tasks import task_metric

    renamed = task_metric("detection", files=replace(files, reference_path=path))
    assert "60 COCO classes outside VOC" in renamed.label
    value, by_class = renamed.measure(Silent())  # one evaluation gives the mean and its per-class parts
    assert value == 0.0 and by_class and set(by_class) <= set(COCO_EXTRA.classes) and set(by_class.values()) == {0.0}
    assert "outside VOC" not in task_metric("detection", files=FOLDERS.detector_files).label
    with pytest.raises(SharekanError, match="not among the head's classes"):
        as_metric_dict([{"label": "person", "box": [0, 0, 1, 1]}], False, COCO_EXTRA.classes)



def test_the_second_head_is_measured_against_its_own_reference(tmp_path, monkeypatch):
    from sharekan_core.detection.labels import COCO_EXTRA
    from sharekan_core.tasks.detection import evaluate_detection

    files = FOLDERS.detector_files
    with pytest.raises(SharekanError, match="coco-extra"):  # a VOC head against the other classes' reference
        teacher_agreement(load_detector(None, DETECTOR_DIR), files.for_labels(COCO_EXTRA))
    second = DETECTOR_DIR / "kan_head_coco_extra.safetensors"
    head = read_model(second).model
    assert head.config.widths == (HEAD_INPUTS, 448, 390) and head.num_edges > 400_000
    # evaluate picks the reference by the head's width; on the photos with the teacher's boxes it finds some
    reference = json.loads(files.for_labels(COCO_EXTRA).reference_path.read_text())
    kept = [entry for entry in reference["images"] if entry["detections"]]
    path = tmp_path / "heldout_coco_extra.json"
    path.write_text(json.dumps(reference | {"images": kept}))
    scores = teacher_agreement(load_detector(head, DETECTOR_DIR), replace(files, reference_path=path))
    assert scores["images"] == len(kept) and 0.0 < scores["map50"] <= 1.0
    # evaluate_detection swaps in the second head's reference by itself (checked without running it)
    import sharekan_core.tasks.detection as detection_task
    seen = []
    monkeypatch.setattr(detection_task, "teacher_agreement", lambda detector, chosen: seen.append(chosen) or {})
    evaluate_detection(files, head)
    assert seen[0].reference_path.name == "teacher_heldout_detections_coco_extra.json"
