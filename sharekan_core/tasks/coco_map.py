"""mAP@0.5 and COCO mAP@[.5:.95] through faster-coco-eval's COCOeval (no hand-written AP maths).

torchmetrics' MeanAveragePrecision would wrap the same backend, but in torchmetrics 1.9 it
refuses to run without torchvision (it imports ``torchvision.ops.box_convert`` in ``update``),
and torchvision has no CPU build for torch 2.13. So this module does what torchmetrics' COCO
backend does: convert per-image dicts to COCO's JSON layout and run COCOeval on them.
"""
from __future__ import annotations

import contextlib
import io

import torch
from faster_coco_eval import COCO, COCOeval_faster


def _coco_dataset(per_image: list[dict[str, torch.Tensor]], categories: list[int], with_scores: bool) -> COCO:
    """COCO object from per-image {"boxes" (N, 4) xyxy, "labels" (N,), ["scores"], ["iscrowd"]}."""
    annotations = []
    for image_id, entry in enumerate(per_image):
        crowd = entry.get("iscrowd", torch.zeros(len(entry["labels"]), dtype=torch.long))
        for k, (box, label) in enumerate(zip(entry["boxes"].tolist(), entry["labels"].tolist())):
            x1, y1, x2, y2 = box
            annotation = {"id": len(annotations) + 1, "image_id": image_id, "category_id": int(label),
                          "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                          "iscrowd": int(crowd[k])}
            if with_scores:
                annotation["score"] = float(entry["scores"][k])
            annotations.append(annotation)
    coco = COCO()
    coco.dataset = {"images": [{"id": i} for i in range(len(per_image))], "annotations": annotations,
                    "categories": [{"id": c, "name": str(c)} for c in categories]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def mean_average_precision(predictions: list[dict[str, torch.Tensor]], targets: list[dict[str, torch.Tensor]]) -> dict:
    """Return {"map50", "map", "class_map50"} of per-image predictions against targets (torchmetrics' dict layout).

    ``class_map50`` maps each label with at least one target box to its AP@0.5.

    Classes without any target box are left out of the mean (COCO's convention); with no target
    boxes at all both values are -1, as in torchmetrics.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} prediction entries for {len(targets)} target entries")
    labels = {int(v) for entry in predictions + targets for v in entry["labels"].tolist()}
    if not any(len(t["labels"]) for t in targets):
        return {"map50": -1.0, "map": -1.0, "class_map50": {}}
    categories = sorted(labels)
    ground_truth = _coco_dataset(targets, categories, with_scores=False)
    detections = _coco_dataset(predictions, categories, with_scores=True)
    evaluator = COCOeval_faster(ground_truth, detections, iouType="bbox", print_function=lambda *a, **k: None)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # precision: (IoU thresholds, recall points, classes, area ranges, max dets); -1 marks "no target".
    precision = evaluator.eval["precision"][0, :, :, 0, -1]
    class_map50 = {label: float(precision[:, k].mean()) for k, label in enumerate(categories)
                   if (precision[:, k] > -1).all()}
    return {"map50": float(evaluator.stats[1]), "map": float(evaluator.stats[0]), "class_map50": class_map50}
