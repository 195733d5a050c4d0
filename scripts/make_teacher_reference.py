"""Store the SSD teacher's detections on the held-out images, so evaluation needs no OpenCV.

Exports the held-out video frames as JPEGs (half resolution) next to the model, then runs the
PyTorch port of the original predictor (proven equal to OpenCV by convert_ssd.py) on every
held-out image and writes its VOC-class detections with score >= 0.5 as JSON.

    .venv/bin/python scripts/make_teacher_reference.py
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from detection_data import HELDOUT_FRAME_DIR, HELDOUT_PHOTOS, PHOTO_DIR, heldout_frames
from sharekan_core.detection.detector import load_teacher
from sharekan_core.detection.preprocess import load_image
from sharekan_core.studio.settings import settings
from sharekan_core.tasks.detection import REFERENCE_SCORE

FILES = settings().detector_files


def export_frames() -> list[Path]:
    """Write the held-out video frames as JPEGs (half size keeps the repository small)."""
    HELDOUT_FRAME_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in heldout_frames():
        video, index = name.split("#")
        path = HELDOUT_FRAME_DIR / f"{Path(video).stem}_{int(index):04d}.jpg"
        frame.resize((frame.width // 2, frame.height // 2)).save(path, quality=88)
        paths.append(path)
    return paths


def main() -> None:
    torch.set_num_threads(2)
    images = [PHOTO_DIR / name for name in HELDOUT_PHOTOS] + export_frames()
    teacher = load_teacher(FILES.detector_dir)
    entries = []
    for path in images:
        image = load_image(path)
        detections = [d.to_dict() for d in teacher.detect(image, REFERENCE_SCORE)]
        entries.append({"path": str(path.relative_to(FILES.image_root)), "width": image.width, "height": image.height,
                        "detections": detections})
        print(path.name, [(d["label"], round(d["score"], 2)) for d in detections])
    reference = {"description": "SSD-MobileNetV2-COCO teacher (PyTorch port of the original box predictor) "
                                "on held-out real images: VOC classes, score >= 0.5, boxes in pixels",
                 "score_threshold": REFERENCE_SCORE, "images": entries}
    FILES.reference_path.write_text(json.dumps(reference, indent=1) + "\n")
    counts: dict[str, int] = {}
    for entry in entries:
        for d in entry["detections"]:
            counts[d["label"]] = counts.get(d["label"], 0) + 1
    print(json.dumps({"images": len(entries), "boxes_per_class": counts}))


if __name__ == "__main__":
    main()
