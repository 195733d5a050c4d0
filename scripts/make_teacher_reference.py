"""Store the SSD teacher's detections on the held-out images, so evaluation needs no OpenCV.

Exports the held-out video frames as JPEGs (half resolution) next to the model, then runs the
PyTorch port of the original predictor (proven equal to OpenCV by convert_ssd.py) on every
held-out image and writes its VOC-class detections with score >= 0.5 as JSON.

With ``--labels coco-extra --teacher FILE`` it writes the second head's reference instead: the
teacher of the 60 COCO classes outside VOC on the VOC held-out images plus that head's own held-out
photos (bundled, at most 640 px), into ``teacher_heldout_detections_coco_extra.json``.

    .venv/bin/python scripts/make_teacher_reference.py
    .venv/bin/python scripts/make_teacher_reference.py --labels coco-extra --teacher scratch/coco_extra/teacher_predictor_coco_extra.safetensors
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from detection_data import (COCO_EXTRA_HELDOUT, COCO_EXTRA_HELDOUT_DIR, HELDOUT_FRAME_DIR, HELDOUT_PHOTOS, PHOTO_DIR,
                            heldout_frames, package_photo_paths, training_photo_paths)
from sharekan_core.detection.detector import load_teacher
from sharekan_core.detection.labels import LABEL_SETS
from sharekan_core.detection.preprocess import load_image
from sharekan_core.paths import settings
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


def export_coco_extra_photos() -> list[Path]:
    """Copy the second head's held-out photos (RGB JPEG, at most 640 px) next to the model."""
    sources = {p.name: p for p in training_photo_paths() + package_photo_paths()}
    COCO_EXTRA_HELDOUT_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in COCO_EXTRA_HELDOUT:
        image = load_image(sources[name])
        image.thumbnail((640, 640))
        path = COCO_EXTRA_HELDOUT_DIR / f"{Path(name).stem}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", choices=sorted(LABEL_SETS), default="voc")
    parser.add_argument("--teacher", type=Path, help="teacher predictor file of --labels (not voc)")
    parser.add_argument("--reuse-images", action="store_true",
                        help="re-run the teacher on the images the existing reference lists (already exported), "
                             "e.g. after a preprocessing change, without the source videos and photos")
    args = parser.parse_args()
    torch.set_num_threads(2)
    labels = LABEL_SETS[args.labels]
    if args.reuse_images:
        reference_path = FILES.for_labels(labels).reference_path
        images = [FILES.image_root / entry["path"] for entry in json.loads(reference_path.read_text())["images"]]
    elif labels.name != "voc":
        reference_path = FILES.for_labels(labels).reference_path
        previous = json.loads(FILES.reference_path.read_text())["images"]
        images = [FILES.image_root / entry["path"] for entry in previous] + export_coco_extra_photos()
    else:
        reference_path = FILES.reference_path
        images = [PHOTO_DIR / name for name in HELDOUT_PHOTOS] + export_frames()
    teacher = load_teacher(FILES.detector_dir, labels, args.teacher)
    entries = []
    for path in images:
        image = load_image(path)
        detections = [d.to_dict() for d in teacher.detect(image, REFERENCE_SCORE)]
        entries.append({"path": str(path.relative_to(FILES.image_root)), "width": image.width, "height": image.height,
                        "detections": detections})
        print(path.name, [(d["label"], round(d["score"], 2)) for d in detections])
    classes = "VOC classes" if labels.name == "voc" else "the 60 COCO classes outside VOC"
    reference = {"description": "SSD-MobileNetV2-COCO teacher (PyTorch port of the original box predictor) "
                                f"on held-out real images: {classes}, score >= 0.5, boxes in pixels",
                 "labels": labels.name, "score_threshold": REFERENCE_SCORE, "images": entries}
    if labels.name != "voc":
        reference["reference"] = ("agreement with the SSD teacher (its detections with score >= 0.5, the 60 COCO "
                                  "classes outside VOC) on held-out real photos")
    reference_path.write_text(json.dumps(reference, indent=1) + "\n")
    counts: dict[str, int] = {}
    for entry in entries:
        for d in entry["detections"]:
            counts[d["label"]] = counts.get(d["label"], 0) + 1
    print(json.dumps({"images": len(entries), "boxes_per_class": counts}))


if __name__ == "__main__":
    main()
