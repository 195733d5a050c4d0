"""Measure a detection head against the shipping targets below and write a JSON report.

- held-out agreement with the SSD teacher (mAP@0.5, mAP@[.5:.95], per-class AP@0.5), the same
  numbers as ``python -m sharekan_core evaluate HEAD --task detection``;
- on every bundled photo (assets/photos/) at the default threshold 0.5: each teacher detection
  (score >= 0.5) must be found with the same class at IoU >= 0.5, and no head detection >= 0.5 may
  lack a teacher detection of its class at IoU >= 0.5 (teacher scores down to ``--teacher-floor``);
- score calibration: head score / teacher score over the matched pairs;
- the same photo checks on the held-out video frames (near the training frames), to tell generalisation to new
  scenes from calibration;
- agreement on the registry photos held out from training (detection_data.REGISTRY_HELDOUT): new scenes with
  more cats and cars than the shipped reference, checked against the head's distillation report;
- the Int8, K = 4096 compressed head (evaluated in the compressed domain) against the teacher.

    .venv/bin/python scripts/check_detection_head.py --head HEAD --out report.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from detection_data import fetch_registry_photos, registry_photo_paths
from sharekan_core.compression import CompressionConfig
from sharekan_core.detection.boxes import box_iou
from sharekan_core.detection.detector import load_detector, load_teacher
from sharekan_core.detection.weights import adapter_file
from sharekan_core.detection.preprocess import load_image
from sharekan_core.io import read_model, write_bytes_atomic
from sharekan_core.results import compress_and_measure
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.paths import bundled_photos, settings
from sharekan_core.tasks.detection import DEFAULT_SCORE, map_against_reference, teacher_agreement
from sharekan_core.tasks.detection_match import match_f1

FOLDERS = settings()

THRESHOLD = 0.5


ADAPTER: Path | None = None  # the location adapter the head runs with (--adapter, else the one it names)


def detector_for(head: torch.nn.Module):
    """The detector around ``head``, with ADAPTER (--adapter, else the one the head's metadata names)."""
    return load_detector(head, FOLDERS.detector_dir, adapter=ADAPTER)


def photo_checks(head: torch.nn.Module, teacher_floor: float, paths: list[Path] | None = None) -> list[dict]:
    """Per photo (the bundled ones by default): teacher detections missed at 0.5 and confident detections the
    teacher lacks."""
    detector, teacher = detector_for(head), load_teacher(FOLDERS.detector_dir)
    rows = []
    for path in bundled_photos(FOLDERS.photos_dir) if paths is None else paths:
        image = load_image(path)
        maps = teacher.feature_maps(image)
        reference = teacher.detect_from_maps(maps, image.size, THRESHOLD)
        loose_reference = teacher.detect_from_maps(maps, image.size, teacher_floor)
        found = detector.detect_from_maps(maps, image.size, THRESHOLD)
        recall = match_f1(reference, found)
        # what a user sees: the head at the Detect page's default threshold (below 0.5 while it scores low)
        shown = match_f1(reference, detector.detect_from_maps(maps, image.size, DEFAULT_SCORE))
        extra = match_f1(loose_reference, found)
        candidates, pairs = detector.detect_from_maps(maps, image.size, 0.01), []
        for ref in reference:
            same = [d for d in candidates if d.label == ref.label]
            best = max(same, key=lambda d: _iou(d.box, ref.box), default=None)
            if best is not None and _iou(best.box, ref.box) >= 0.5:
                pairs.append((ref.score, best.score))
        rows.append({"photo": path.name, "teacher": [_short(d) for d in reference], "head": [_short(d) for d in found],
                     "teacher_found": recall["matched"], "teacher_detections": recall["reference"],
                     "teacher_found_at_default": shown["matched"],
                     "unmatched_confident": len(found) - extra["matched"],
                     "score_pairs": [[round(t, 3), round(s, 3)] for t, s in pairs]})
    return rows


def registry_check(head: torch.nn.Module, teacher_floor: float, distill_report: Path | None) -> dict:
    """Agreement with the teacher on the registry photos held out from training (scripts/detection_data.py's
    REGISTRY_HELDOUT, fetched on first use): more cats and cars than the shipped reference holds, all new scenes.
    The head's distillation report must not list any of them among its training sources."""
    fetch_registry_photos()
    paths = registry_photo_paths(heldout=True)
    if distill_report is None or not distill_report.is_file():
        return {"skipped": "no distillation report to show these photos were not trained on (--distill-report)"}
    trained = set(json.loads(distill_report.read_text()).get("training_sources", []))
    if trained & {p.name for p in paths}:
        return {"skipped": f"{distill_report} lists some of these photos among its training sources"}
    teacher = load_teacher(FOLDERS.detector_dir)
    reference = []
    for path in paths:
        image = load_image(path)
        reference.append([d.to_dict() for d in teacher.detect_from_maps(teacher.feature_maps(image), image.size, THRESHOLD)])
    scores = map_against_reference(detector_for(head), paths, reference, FOLDERS.detector_dir)
    counts: dict[str, int] = {}
    for detections in reference:
        for detection in detections:
            counts[detection["label"]] = counts.get(detection["label"], 0) + 1
    return {"photos": [f"{p.parent.name}/{p.name}" for p in paths], "teacher_boxes": counts,
            **{k: scores[k] for k in ("map50", "map", "class_map50")},
            **summary(photo_checks(head, teacher_floor, paths))}


def summary(rows: list[dict]) -> dict:
    """Totals over ``photo_checks`` rows: teacher boxes found at 0.5, confident extras, median score ratio."""
    ratios = [s / t for row in rows for t, s in row["score_pairs"]]
    return {"images": len(rows), "teacher_detections": sum(r["teacher_detections"] for r in rows),
            "teacher_found": sum(r["teacher_found"] for r in rows),
            "teacher_found_at_default": sum(r["teacher_found_at_default"] for r in rows),
            "unmatched_confident": sum(r["unmatched_confident"] for r in rows),
            "score_ratio_median": round(statistics.median(ratios), 3) if ratios else None}


def _iou(a, b) -> float:
    return float(box_iou(torch.tensor([a]), torch.tensor([b]))[0, 0])


def _short(det) -> str:
    return f"{det.label} {det.score:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", type=Path, required=True)
    parser.add_argument("--teacher-floor", type=float, default=0.3,
                        help="a head detection >= 0.5 counts as one the teacher makes if the teacher has it at this score")
    parser.add_argument("--skip-compressed", action="store_true")
    parser.add_argument("--skip-registry", action="store_true", help="skip the held-out registry photos' check")
    parser.add_argument("--distill-report", type=Path, default=None,
                        help="the head's distillation report (default: distill_report.json beside the head)")
    parser.add_argument("--adapter", type=Path, default=None,
                        help="the location adapter to run the head with; default: the one its metadata names, beside "
                             "the head if there, else in the detector folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.time()
    loaded = read_model(args.head)
    head = loaded.model.eval()
    global ADAPTER
    ADAPTER = args.adapter
    if ADAPTER is None:  # the adapter the head's metadata names: beside the head (a training run's), else shipped
        name = adapter_file(loaded.metadata)
        ADAPTER = args.head.parent / name if (args.head.parent / name).is_file() else FOLDERS.detector_dir / name
    dense = teacher_agreement(detector_for(head), FOLDERS.detector_files)
    photos = photo_checks(head, args.teacher_floor)
    # The same checks on the held-out video frames: other moments of the videos the head trained on, so a gap
    # between these and the bundled photos is generalisation to new scenes.
    frames = photo_checks(head, args.teacher_floor, bundled_photos(FOLDERS.detector_dir / "heldout_frames"))
    report = {
        "head": str(args.head), "adapter": str(ADAPTER), "default_score": DEFAULT_SCORE, "dense": {k: dense[k] for k in ("map50", "map", "class_map50")},
        "photos": photos,
        "photos_all_teacher_found": all(r["teacher_found"] == r["teacher_detections"] for r in photos),
        "photos_no_unmatched_confident": all(r["unmatched_confident"] == 0 for r in photos),
        "score_ratio_median": summary(photos)["score_ratio_median"],
        "heldout_frames": summary(frames),
        "teacher_floor": args.teacher_floor,
    }
    if not args.skip_compressed:
        result = compress_and_measure(head, CompressionConfig(codebook_size=4096, bits=8))
        compressed = teacher_agreement(detector_for(CompressedDomainKAN(result.compressed).eval()), FOLDERS.detector_files)
        report["int8_k4096"] = {k: compressed[k] for k in ("map50", "map", "class_map50")} | {
            "ratio": result.storage.ratio, "gap_points": round(100 * (dense["map50"] - compressed["map50"]), 2)}
    if not args.skip_registry:
        distill_report = args.distill_report or args.head.parent / "distill_report.json"
        report["registry_heldout"] = registry_check(head, args.teacher_floor, distill_report)
    report["seconds"] = round(time.time() - start, 1)
    write_bytes_atomic(args.out, (json.dumps(report, indent=1) + "\n").encode())
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
