"""Recompute the cached experiment results the app shows instantly (assets/sweeps, transfer, scaling).

Usage: python scripts/make_assets.py [digits] [detection] [--only sweep transfer cross-task scaling operating methods] [--resume] [--quick]
Each result is the same JSON the CLI commands `sweep`, `transfer` and `scaling` print or write.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sharekan_core.compression import CompressionConfig
from sharekan_core.experiments import codebook_transfer, default_codebook_sizes, run_sweep, shared_codebook_scaling
from sharekan_core.experiments.comparison import ComparisonPlan
from sharekan_core.experiments.provenance import file_sha256
from sharekan_core.experiments.sweep import sweep_document
from sharekan_core.io import read_model, write_bytes_atomic
from sharekan_core.paths import settings
from sharekan_core.tasks import task_metric

FOLDERS = settings()
ASSETS = FOLDERS.assets_dir
DIGITS = FOLDERS.models_dir / "digits_kan.safetensors"
DIGITS_SIBLINGS = [FOLDERS.models_dir / f"digits_kan_seed{s}.safetensors" for s in (1, 2)]
DETECTION_HEAD = FOLDERS.detector_dir / "kan_head.safetensors"
DETECTION_SIBLING = FOLDERS.detector_dir / "kan_head_seed1.safetensors"
COCO_EXTRA_HEAD = FOLDERS.detector_dir / "kan_head_coco_extra.safetensors"  # the second head (other COCO classes)

# Method comparison plans: sizes from about dense/4 to dense/30. A detection point (data-aware compression
# of 325,000 edges plus teacher agreement over 28 photos) takes several minutes on 2 shared cores, so its
# plan keeps the targets: data-aware SHARe-KAN at 14x and 17x (3 seeds), data-blind at 14x and 17x (3 seeds),
# uniform and GPTQ from 8x to 17x. The head's FP32/Int8 split is in detection_head.json (K x bits x seeds).
DIGITS_PLAN = ComparisonPlan(sharekan=tuple((k, b) for k in (16, 32, 64, 128, 256, 512) for b in (8, 4)),
                             fp32_sizes=(64, 256), uniform_bits=(8, 6, 5, 4, 3, 2), gptq_bits=(8, 6, 5, 4, 3, 2),
                             kmeans_sizes=(16, 64, 256), kmeans_bits=(8, 4), prune_sparsities=(0.5, 0.75, 0.9))
# Transfer rows at the FP32 codebook and at Int8: the gap is what quantization costs beyond clustering (issue 30).
SPLIT_BITS = (32, 8)
TRANSFER_SIZES = [4096, 1024, 16384]  # the paper's operating point first, so a cut-short run has it
MIN_CLASS_BOXES = 20  # per-class AP is reported for classes with at least this many reference boxes
DETECTION_PLAN = ComparisonPlan(sharekan=((16384, 4), (4096, 4)), blind_seeds=(0, 1, 2), uniform_bits=(4, 3, 2),
                                gptq_bits=(4, 3, 2))


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, (json.dumps(document, indent=1) + "\n").encode())
    print(f"wrote {path}", flush=True)


def progress(fraction: float, message: str) -> None:
    print(f"  [{fraction:5.1%}] {message}", flush=True)


def files_for(loaded):
    """The detector's files with the location adapter a model's metadata names (the shared one by default)."""
    return FOLDERS.detector_files.for_model(loaded.metadata)


def sweep(model_path: Path, task: str, sizes: list[int], seeds: list[int], name: str, workers: int | None = None) -> None:
    """K x bits x seeds and pruning; on Dask workers (one per core by default, identical to a serial run)."""
    loaded = read_model(model_path)
    metric = task_metric(task, files=files_for(loaded))
    start = time.time()
    points = run_sweep(loaded.model, metric, sizes, (32, 8, 4), seeds, (0.05, 0.1, 0.2, 0.3, 0.5), progress,
                       scheduler=None, workers=workers)
    document = sweep_document(model_path.name, metric, points) | {"seconds": round(time.time() - start, 1)}
    write_json(ASSETS / "sweeps" / f"{name}.json", document)


def dense_measured_once(metric, dense):
    """``metric`` with the target's dense matches computed once for all rows of a transfer (each row reuses them)."""
    from dataclasses import replace

    if metric.matches is None:
        return metric
    kept = {}

    def matches(module):
        if module is not dense:
            return metric.matches(module)
        if "dense" not in kept:
            kept["dense"] = metric.matches(module)
        return kept["dense"]

    return replace(metric, matches=matches)


def measured_config(row: dict) -> tuple[int, int]:
    return row["config"]["codebook_size"], row["config"]["bits"]


def saved_rows(name: str, source: str, target: str, planned: list[tuple[int, int]]) -> list[dict]:
    """The rows of a partial transfer document (``complete`` false) of the same heads, measured with intervals:
    a run cut short goes on from them. Anything else starts afresh."""
    path = ASSETS / "transfer" / f"{name}.json"
    if not path.is_file():
        return []
    document = json.loads(path.read_text())
    if document.get("complete") is not False or (document.get("source"), document.get("target")) != (source, target):
        return []
    rows = [r for r in document["rows"] if "intervals" in r and measured_config(r) in planned]
    print(f"resuming {name}: {len(rows)} of {len(planned)} rows already measured", flush=True)
    return rows


def transfer(source: Path, target: Path, task: str, sizes: list[int], name: str) -> None:
    src, loaded = read_model(source).model, read_model(target)
    dst = loaded.model.eval()
    metric = dense_measured_once(task_metric(task, files=files_for(loaded)), dst)
    planned = [(k, bits) for k in sizes for bits in SPLIT_BITS]
    rows = saved_rows(name, source.name, target.name, planned)
    for k, bits in planned:  # saved after each row: a long run keeps what it has measured
        if any(measured_config(r) == (k, bits) for r in rows):
            continue
        rows.append(codebook_transfer(src, dst, CompressionConfig(codebook_size=k, bits=bits), metric))
        write_json(ASSETS / "transfer" / f"{name}.json",
                   {"source": source.name, "target": target.name, "split_bits": list(SPLIT_BITS),
                    "complete": len(rows) == len(planned), "rows": rows})


def cross_task_transfer(sizes: list[int], name: str) -> None:
    """The VOC head's codebook applied zero-shot to the head of the 60 other COCO classes (the paper's VOC -> COCO)."""
    from sharekan_core.detection.labels import COCO_EXTRA

    src, loaded = read_model(DETECTION_HEAD).model, read_model(COCO_EXTRA_HEAD)
    dst = loaded.model.eval()
    metric = dense_measured_once(task_metric("detection", files=files_for(loaded).for_labels(COCO_EXTRA)), dst)
    planned = [(k, bits) for k in sizes for bits in SPLIT_BITS]
    rows = saved_rows(name, DETECTION_HEAD.name, COCO_EXTRA_HEAD.name, planned)
    for k, bits in planned:  # saved after each row: a long run keeps what it has measured
        if any(measured_config(r) == (k, bits) for r in rows):
            continue
        rows.append(codebook_transfer(src, dst, CompressionConfig(codebook_size=k, bits=bits), metric, fidelity=True))
        write_json(ASSETS / "transfer" / f"{name}.json",
                   {"source": DETECTION_HEAD.name, "target": COCO_EXTRA_HEAD.name, "kind": "cross-task",
                    "split_bits": list(SPLIT_BITS), "complete": len(rows) == len(planned),
                    "description": "codebook of the VOC head (20 classes) applied to a head trained the same way for "
                                   "the 60 COCO classes outside VOC; its agreement is measured against that head's "
                                   "own teacher reference", "rows": rows})


def scaling(heads: list[Path], k: int, name: str) -> None:
    result = shared_codebook_scaling([read_model(h).model for h in heads], CompressionConfig(codebook_size=k, bits=8))
    write_json(ASSETS / "scaling" / f"{name}.json", {"heads": [h.name for h in heads], "codebook_size": k,
                                                      "bits": 8, **result})


def operating_points(head: Path, sizes: list[int], name: str) -> None:
    """Int8 at several K: ratio, agreement with the teacher, and agreement with the dense head."""
    from sharekan_core.detection.detector import load_detector
    from sharekan_core.tasks.bootstrap import boxes_per_class, figures_with_intervals
    from sharekan_core.tasks.detection import compressed_vs_dense, teacher_agreement_and_matches
    from sharekan_core.results import compress_and_measure
    from sharekan_core.runtime import CompressedDomainKAN

    loaded = read_model(head)
    model, files = loaded.model, files_for(loaded)
    rows = []
    dense, dense_matches = teacher_agreement_and_matches(load_detector(model.eval(), FOLDERS.detector_dir,
                                                                       files.adapter_path), files)
    matches = {"dense": dense_matches}
    for k in sizes:
        result = compress_and_measure(model, CompressionConfig(codebook_size=k, bits=8))
        module = CompressedDomainKAN(result.compressed).eval()  # evaluated in the compressed domain
        teacher, matches[f"K={k}"] = teacher_agreement_and_matches(
            load_detector(module, FOLDERS.detector_dir, files.adapter_path), files)
        versus = compressed_vs_dense(module, files)
        rows.append({"codebook_size": k, "bits": 8, "seed": 0, "compressed_bytes": result.storage.compressed_bytes,
                     "dense_bytes": result.storage.dense_bytes, "ratio": result.storage.ratio,
                     "teacher_map50": teacher["map50"], "teacher_map": teacher["map"],
                     "versus_dense_map50": versus["map50"], "versus_dense_map": versus["map"],
                     "versus_dense_reference": versus["reference"], "teacher_reference": teacher["reference"]})
        print(f"  K={k}: {rows[-1]}", flush=True)
    intervals = figures_with_intervals(matches, "dense")
    for row in rows:
        row["teacher_interval"] = intervals[f"K={row['codebook_size']}"]
    boxes = boxes_per_class(dense_matches, reference_class_names(files))
    write_json(ASSETS / "operating_points" / f"{name}.json",
               {"model": head.name, "dense_teacher_map50": dense["map50"], "dense_teacher_map": dense["map"],
                "dense_interval": intervals["dense"], "bootstrap": intervals["bootstrap"],
                "teacher_boxes": sum(boxes.values()), "images": dense["images"],
                "per_class": {name_: {"ap50": round(dense["class_map50"][name_], 4), "boxes": count}
                              for name_, count in sorted(boxes.items(), key=lambda kv: -kv[1])
                              if count >= MIN_CLASS_BOXES},
                "per_class_min_boxes": MIN_CLASS_BOXES, "boxes_per_class": boxes, "rows": rows})


def reference_class_names(files) -> tuple[str, ...]:
    """Class names of the label set a detector folder's reference holds."""
    from sharekan_core.tasks.detection import reference_labels

    return reference_labels(files).classes


def committed_as(path: Path) -> str | None:
    """The last commit of ``path`` when the file on disk is that commit's, else None (a head not yet committed
    must not be credited to the commit of the file it replaces; its SHA-256 is recorded either way)."""
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args, "--", str(path)], cwd=path.parent, capture_output=True, text=True)

    if git("diff", "--quiet", "HEAD").returncode != 0:
        return None
    return git("log", "-1", "--format=%H").stdout.strip() or None


def methods(model_path: Path, task: str, plan, name: str, workers: int | None, resume: bool = False) -> None:
    """Every method at sizes from dense/4 to dense/30 on Dask workers (see experiments/comparison.py).

    ``resume`` keeps the points of a partial document measured on the same model commit and runs the rest.
    """
    from sharekan_core.experiments.calibration import task_calibration
    from sharekan_core.experiments.comparison import comparison_jobs
    from sharekan_core.experiments.sweep import SweepPoint, run_jobs, split_measured

    loaded = read_model(model_path)
    model, files = loaded.model, files_for(loaded)
    metric, calibration = task_metric(task, files=files), task_calibration(task, FOLDERS.detector_dir, files.adapter_path)
    jobs = comparison_jobs(plan)
    start = time.time()
    commit = committed_as(model_path)
    arrived: dict[int, object] = {}
    earlier_seconds, sha256 = 0.0, file_sha256(model_path)
    target = ASSETS / "sweeps" / f"{name}_methods.json"
    if resume and target.is_file():
        previous = json.loads(target.read_text())
        if previous.get("model_sha256", sha256) == sha256 and previous.get("model_commit") == commit \
                and previous.get("metric") == metric.name:
            arrived, _ = split_measured(jobs, [SweepPoint(**p) for p in previous["points"]])
            earlier_seconds = float(previous.get("seconds", 0.0))
            print(f"resuming: {len(arrived)} of {len(jobs)} points already measured on this head", flush=True)
    todo = [i for i in range(len(jobs)) if i not in arrived]

    def save(points: list, complete: bool) -> None:
        document = sweep_document(model_path.name, metric, points) | {
            "seconds": round(earlier_seconds + time.time() - start, 1), "model_commit": commit,
            "model_sha256": sha256, "calibration_rows": len(calibration),
            "calibration": "kept apart from every evaluation set (sharekan_core/experiments/calibration.py)",
            "complete": complete, "planned_points": len(jobs)}
        write_json(ASSETS / "sweeps" / f"{name}_methods.json", document)

    def on_point(index: int, point: object) -> None:  # a long sweep keeps what it has measured so far
        arrived[todo[index]] = point
        save([arrived[i] for i in sorted(arrived)], len(arrived) == len(jobs))

    run_jobs(model, metric, [jobs[i] for i in todo], calibration, workers=workers, progress=progress, on_point=on_point)
    save([arrived[i] for i in sorted(arrived)], True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tasks", nargs="*", default=["digits", "detection"])
    parser.add_argument("--only", nargs="+", choices=("sweep", "transfer", "cross-task", "scaling", "operating", "methods"),
                        default=["sweep", "transfer", "cross-task", "scaling", "operating", "methods"])
    parser.add_argument("--workers", type=int, help="Dask workers for the sweeps (default: one per core)")
    parser.add_argument("--resume", action="store_true",
                        help="method sweeps: keep the points already saved for the same model commit")
    parser.add_argument("--quick", action="store_true", help="fewer K values and one seed (smoke run)")
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    if "digits" in args.tasks:
        sizes = default_codebook_sizes(read_model(DIGITS).model.num_edges)
        if "sweep" in args.only:
            sweep(DIGITS, "digits", sizes[::3] if args.quick else sizes, seeds, "digits_kan", args.workers)
        if "transfer" in args.only:
            transfer(DIGITS, DIGITS_SIBLINGS[0], "digits", [64, 256, 1024], "digits_kan")
        if "scaling" in args.only:
            scaling([DIGITS, *DIGITS_SIBLINGS], 256, "digits_kan")
        if "methods" in args.only:
            methods(DIGITS, "digits", DIGITS_PLAN, "digits_kan", args.workers, args.resume)
    if "detection" in args.tasks:
        sizes = default_codebook_sizes(read_model(DETECTION_HEAD).model.num_edges)
        if "sweep" in args.only:  # every other power of two (and 65,536) keeps the run near half an hour here
            sweep(DETECTION_HEAD, "detection", sizes[::4] if args.quick else sorted(set(sizes[::2] + [sizes[-1]])),
                  seeds, "detection_head", args.workers)
        if "transfer" in args.only and DETECTION_SIBLING.is_file():
            transfer(DETECTION_HEAD, DETECTION_SIBLING, "detection", TRANSFER_SIZES, "detection_head")
        if "cross-task" in args.only and COCO_EXTRA_HEAD.is_file():
            cross_task_transfer(TRANSFER_SIZES, "detection_head_cross_task")
        if "methods" in args.only:
            methods(DETECTION_HEAD, "detection", DETECTION_PLAN, "detection_head", args.workers, args.resume)
        if "operating" in args.only:
            operating_points(DETECTION_HEAD, [1024, 4096, 16384, 65536], "detection_head")
        if "scaling" in args.only:
            scaling([DETECTION_HEAD] + ([DETECTION_SIBLING] if DETECTION_SIBLING.is_file() else []), 4096,
                    "detection_head")


if __name__ == "__main__":
    main()
