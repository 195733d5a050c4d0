"""Subcommands on tasks: evaluate and detect."""
from __future__ import annotations

import argparse

from ..errors import SharekanError
from .model_commands import add_head_option, add_model_source_options, model_source
from .terminal import announce_first_call, native_stderr_silenced, progress_bar

TASKS = ("digits", "detection")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("evaluate", help="measure a dense or compressed model on its task; prints JSON",
                              description="digits: held-out accuracy on scikit-learn's digits. detection: mAP@0.5 "
                                          "and mAP@[.5:.95] (COCOeval from faster-coco-eval) against the reference named in the output.")
    p.add_argument("model", help="dense KAN, compressed file or multi-head bundle")
    add_head_option(p, head_file=False, help="the head of a multi-head bundle to evaluate")
    add_model_source_options(p, between=True)
    p.add_argument("--task", choices=TASKS, help="default: the task stored in the model's metadata")
    p.add_argument("--data", help="detection only: a VOCdevkit folder (Annotations/, JPEGImages/) to evaluate on")
    p.set_defaults(handler=run_evaluate)

    p = subparsers.add_parser("detect", help="detect VOC objects in an image with the shipped SSD + KAN head",
                              description="Prints a JSON list of {label, score, box: [x1, y1, x2, y2]} in pixels of "
                                          "the original image. --head-file swaps in another head: the dense KAN file or a "
                                          "compressed file made by 'compress' from it.")
    p.add_argument("image", help="JPEG, PNG or WebP photo")
    which = p.add_mutually_exclusive_group()
    add_head_option(which, head_file=True, help="head file (default: the shipped dense KAN head)")
    which.add_argument("--teacher", action="store_true",
                       help="the original SSD's box predictor instead of a KAN head (the reference every head is "
                            "measured against), same JSON")
    add_model_source_options(p)
    p.add_argument("--score", type=float, help="minimum score, 0..1 (default: the Detect page's threshold, "
                                                 "tasks.detection.DEFAULT_SCORE)")
    p.set_defaults(handler=run_detect)

    p = subparsers.add_parser("export-detector", help="export the whole detector (backbone + KAN head) to a .pte",
                              description="Write one ExecuTorch program: preprocessed (1, 3, 300, 300) pixels -> "
                                          "decoded boxes and scores per anchor (NMS stays in Python: its output "
                                          "shape depends on the data). Runs it on IMAGE and compares its detections "
                                          "with eager PyTorch.")
    add_head_option(p, head_file=True, help="head file, dense or compressed (default: the shipped dense KAN head)")
    add_model_source_options(p)
    p.add_argument("--pte", required=True, help="output .pte (written atomically)")
    p.add_argument("--image", help="photo to check on (default: the first bundled photo, resized to 320x320)")
    p.add_argument("--score", type=float, default=0.3, help="score threshold for the comparison (default 0.3)")
    p.add_argument("--no-xnnpack", action="store_true", help="keep every operator on the portable kernels")
    p.set_defaults(handler=run_export_detector)


def run_evaluate(args: argparse.Namespace) -> dict:
    """Evaluate on the requested or stored task."""
    from ..runtime import load_runnable
    from ..runtime.loading import check_flat
    from ..tasks.digits import digits_accuracy

    runnable = load_runnable(args.model, args.head, **model_source(args))
    check_flat(runnable, "evaluate")
    task = args.task or runnable.metadata.get("task")
    if task not in TASKS:
        raise SharekanError(f"cannot tell the task of {args.model}; pass --task {' or --task '.join(TASKS)}")
    if task == "digits":
        if args.data:
            raise SharekanError("--data applies to --task detection only")
        if runnable.in_features != 64 or runnable.out_features != 10:
            raise SharekanError(f"digits needs a 64 -> 10 model, this one is {runnable.in_features} -> {runnable.out_features}")
        with progress_bar() as progress:
            announce_first_call(runnable.module, progress)
            return {**digits_accuracy(runnable.module), "model": str(args.model), "kind": runnable.kind}
    from ..paths import settings
    from ..tasks.detection import compressed_vs_dense, evaluate_detection, warm_heldout_maps

    files = settings().detector_files.for_model(runnable.metadata)  # the location adapter the head names
    with progress_bar() as progress:
        announce_first_call(runnable.module, progress)
        if args.data is None:
            warm_heldout_maps(files, progress)
        else:
            progress(0.0, f"detecting on the VOC images at {args.data}")
        result = {**evaluate_detection(files, runnable.module, args.data), "model": str(args.model),
                  "kind": runnable.kind}
        if runnable.kind == "compressed" and args.data is None:
            progress(1.0, "agreement with the dense head")
            versus = compressed_vs_dense(runnable.module, files)
            result["versus_dense_head"] = {"map50": versus["map50"], "map": versus["map"],
                                           "reference": versus["reference"]}
    return result


def run_detect(args: argparse.Namespace) -> list[dict]:
    """Detections on one image as JSON-ready dicts."""
    from ..detection.detector import detect_image  # heavy; detection only
    from ..paths import settings
    from ..tasks.detection import DEFAULT_SCORE

    score = DEFAULT_SCORE if args.score is None else args.score
    if not 0.0 <= score <= 1.0:
        raise SharekanError(f"--score must be in [0, 1], got {score}")
    return detect_image(args.image, settings().detector_dir, args.head, score, teacher=args.teacher,
                        **model_source(args))


def run_export_detector(args: argparse.Namespace) -> dict:
    """Export the detector, then compare the program's detections with eager on one image."""
    from ..detection.detector import load_detector
    from ..detection.export import PteDetector, compare_detections, export_detector, sample_image
    from ..paths import settings

    if not 0.0 <= args.score <= 1.0:
        raise SharekanError(f"--score must be in [0, 1], got {args.score}")
    with progress_bar() as progress:
        progress(0.0, "loading the detector")
        folders = settings()
        detector = load_detector(args.head, folders.detector_dir, **model_source(args))
        progress(0.1, "exporting the ExecuTorch program")
        size = export_detector(detector, args.pte, xnnpack=not args.no_xnnpack)
        progress(0.8, "comparing the program's detections with eager PyTorch")
        image = sample_image(args.image, folders.photos_dir)
        with native_stderr_silenced():
            program_detections = PteDetector(args.pte, detector).detect(image, args.score)
        comparison = compare_detections(detector.detect(image, args.score), program_detections)
    return {"out": str(args.pte), "pte_bytes": size, "head": args.head or "shipped dense KAN head",
            "image_size": list(image.size), "xnnpack": not args.no_xnnpack, **comparison}
