"""Subcommands on tasks: evaluate (and detect, once the detector is wired)."""
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
    from ..detection.cli_support import evaluate_detection_cli  # heavy; only for detection

    return evaluate_detection_cli(runnable, args.data)
