"""Subcommands on tasks: evaluate and detect."""
from __future__ import annotations

import argparse

from ..errors import SharekanError
from ..evaluate import digits_accuracy
from ..runtime import load_runnable

TASKS = ("digits", "detection")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("evaluate", help="measure a dense or compressed model on its task; prints JSON",
                              description="digits: held-out accuracy on scikit-learn's digits. detection: mAP@0.5 "
                                          "and mAP@[.5:.95] (torchmetrics) against the reference named in the output.")
    p.add_argument("model", help="dense KAN or compressed file")
    p.add_argument("--task", choices=TASKS, help="default: the task stored in the model's metadata")
    p.add_argument("--data", help="detection only: a VOCdevkit folder (Annotations/, JPEGImages/) to evaluate on")
    p.set_defaults(handler=run_evaluate)

    p = subparsers.add_parser("detect", help="detect VOC objects in an image with the shipped SSD + KAN head",
                              description="Prints a JSON list of {label, score, box: [x1, y1, x2, y2]} in pixels of "
                                          "the original image. --head swaps in another head: the dense KAN file or a "
                                          "compressed file made by 'compress' from it.")
    p.add_argument("image", help="JPEG, PNG or WebP photo")
    p.add_argument("--head", help="head file (default: the shipped dense KAN head)")
    p.add_argument("--score", type=float, default=0.5, help="minimum score, 0..1 (default 0.5)")
    p.set_defaults(handler=run_detect)


def run_evaluate(args: argparse.Namespace) -> dict:
    """Evaluate on the requested or stored task."""
    runnable = load_runnable(args.model)
    task = args.task or runnable.metadata.get("task")
    if task not in TASKS:
        raise SharekanError(f"cannot tell the task of {args.model}; pass --task {' or --task '.join(TASKS)}")
    if task == "digits":
        if args.data:
            raise SharekanError("--data applies to --task detection only")
        if runnable.in_features != 64 or runnable.out_features != 10:
            raise SharekanError(f"digits needs a 64 -> 10 model, this one is {runnable.in_features} -> {runnable.out_features}")
        return {**digits_accuracy(runnable.module), "model": str(args.model), "kind": runnable.kind}
    from ..detection.evaluate import compressed_vs_dense, evaluate_detection  # heavy; detection only

    result = {**evaluate_detection(runnable.module, args.data), "model": str(args.model), "kind": runnable.kind}
    if runnable.kind == "compressed" and args.data is None:
        versus = compressed_vs_dense(runnable.module)
        result["versus_dense_head"] = {"map50": versus["map50"], "map": versus["map"], "reference": versus["reference"]}
    return result


def run_detect(args: argparse.Namespace) -> list[dict]:
    """Detections on one image as JSON-ready dicts."""
    from ..detection.detector import detect_image  # heavy; detection only

    if not 0.0 <= args.score <= 1.0:
        raise SharekanError(f"--score must be in [0, 1], got {args.score}")
    return detect_image(args.image, args.head, args.score)
