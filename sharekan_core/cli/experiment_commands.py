"""Subcommands that run experiments: sweep, transfer, scaling; and bundle (N heads on one codebook)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SharekanError
from ..ranges import CONFIG_BITS, MAX_CODEBOOK, MIN_CODEBOOK, check_int
from .model_commands import add_model_source_options, model_source
from .terminal import progress_bar

if TYPE_CHECKING:
    from ..compression import CompressionConfig

TASKS = ("digits", "detection")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("sweep", help="storage-versus-metric table over K, bits, seeds, and pruning",
                              description="Compress MODEL for every K (powers of 2, capped at the edge count), "
                                          "bit-width and seed, measure the task metric, add magnitude pruning at "
                                          "several sparsities, and save raw points, mean/std summary and the "
                                          "Pareto frontier as JSON.")
    p.add_argument("model")
    add_model_source_options(p)
    p.add_argument("--task", choices=TASKS, help="default: the model's stored task")
    p.add_argument("--data", help="detection only: VOCdevkit folder")
    p.add_argument("--k-min", type=int, default=16)
    p.add_argument("--k-max", type=int, default=MAX_CODEBOOK)
    p.add_argument("--ks", type=int, nargs="+", help="explicit codebook sizes instead of powers of two")
    p.add_argument("--bits", type=int, nargs="+", default=[32, 8, 4], choices=CONFIG_BITS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sparsities", type=float, nargs="*", default=[0.05, 0.1, 0.2, 0.3, 0.5])
    p.add_argument("--scheduler", help="run the points on this running Dask cluster (e.g. tcp://host:8786); default: "
                                       "a local cluster of one single-threaded worker process per core")
    p.add_argument("--workers", type=int, help="local cluster size (default: one worker per core)")
    p.add_argument("--serial", action="store_true", help="run every point in this process, no Dask")
    p.add_argument("--out", required=True, help="output JSON (e.g. assets/sweeps/NAME.json)")
    p.set_defaults(handler=run_sweep_command)

    p = subparsers.add_parser("transfer", help="zero-shot: compress TARGET with the codebook learned on SOURCE")
    p.add_argument("source")
    p.add_argument("target")
    add_model_source_options(p)
    _add_config_arguments(p)
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--data")
    p.set_defaults(handler=run_transfer)

    p = subparsers.add_parser("scaling", help="storage of N heads sharing one codebook, checked against real files",
                              description="Learns the codebook on the first head, assigns the other heads to it, "
                                          "prints N = 1..--max-heads storage, and writes real multi-head bundles "
                                          "for N = 1..number of given heads to check the formula.")
    p.add_argument("heads", nargs="+", help="dense KANs of one architecture (the first one trains the codebook)")
    add_model_source_options(p)
    _add_config_arguments(p)
    p.add_argument("--max-heads", type=int, default=50)
    p.set_defaults(handler=run_scaling)

    p = subparsers.add_parser("bundle", help="write N heads as one multi-head bundle sharing one set of codebooks",
                              description="Compresses the first head, assigns the others to its codebooks and writes "
                                          "one bundle, each head named after its file. 'inspect' lists the heads; "
                                          "'predict', 'evaluate' and 'export' run one with --bundle-head NAME.")
    p.add_argument("heads", nargs="+", help="dense KANs of one architecture (the first one trains the codebook)")
    add_model_source_options(p)
    _add_config_arguments(p)
    p.add_argument("--out", required=True, help="output bundle (.safetensors, written atomically)")
    p.set_defaults(handler=run_bundle)


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codebook-size", "-K", type=int, required=True)
    p.add_argument("--bits", type=int, default=8, choices=CONFIG_BITS)
    p.add_argument("--scope", choices=("layer", "global"), default="layer")
    p.add_argument("--seed", type=int, default=0)


def _config(args: argparse.Namespace) -> CompressionConfig:
    from ..compression import CompressionConfig

    return CompressionConfig(codebook_size=args.codebook_size, bits=args.bits, scope=args.scope, seed=args.seed)


def run_sweep_command(args: argparse.Namespace) -> dict:
    """Run the sweep, save its JSON atomically, and return the summary."""
    from ..compression import CompressionConfig
    from ..experiments import default_codebook_sizes, run_sweep
    from ..experiments.sweep import sweep_document
    from ..io import read_model, write_bytes_atomic
    from ..paths import settings
    from ..tasks import task_metric

    check_int("--k-min", args.k_min, MIN_CODEBOOK, MAX_CODEBOOK)
    check_int("--k-max", args.k_max, args.k_min, MAX_CODEBOOK)
    if args.serial and (args.scheduler or args.workers):
        raise SharekanError("--serial runs here; drop --scheduler and --workers")
    if args.workers is not None:
        check_int("--workers", args.workers, 1, 1024)
    loaded = read_model(args.model, **model_source(args))
    for bits in args.bits:
        CompressionConfig(codebook_size=2, bits=bits)
    metric = task_metric(args.task or loaded.metadata.get("task"), args.data,
                         settings().detector_files.for_model(loaded.metadata))
    sizes = args.ks or default_codebook_sizes(loaded.model.num_edges, args.k_min, args.k_max)
    for k in sizes:
        CompressionConfig(codebook_size=k)  # validate every K before the long run
    with progress_bar() as progress:
        points = run_sweep(loaded.model, metric, sizes, args.bits, args.seeds, args.sparsities, progress,
                           scheduler="serial" if args.serial else args.scheduler, workers=args.workers)
    document = sweep_document(Path(args.model).name, metric, points)
    write_bytes_atomic(args.out, json.dumps(document, indent=1).encode())
    return {"out": args.out, "summary": document["summary"], "pareto": document["pareto"]}


def run_transfer(args: argparse.Namespace) -> dict:
    """Compare the target's own codebook with the source's."""
    from ..experiments import codebook_transfer
    from ..io import read_model
    from ..paths import settings
    from ..tasks import task_metric

    source, target = read_model(args.source, **model_source(args)), read_model(args.target, **model_source(args))
    metric = task_metric(args.task or target.metadata.get("task"), args.data,
                         settings().detector_files.for_model(target.metadata))
    return {"source": args.source, "target": args.target,
            **codebook_transfer(source.model, target.model, _config(args), metric)}


def run_scaling(args: argparse.Namespace) -> dict:
    """Print the N-head storage curve, checked against real bundles for the given heads."""
    from ..experiments import shared_codebook_scaling
    from ..io import read_model

    models = [read_model(path, **model_source(args)).model for path in args.heads]
    return shared_codebook_scaling(models, _config(args), args.max_heads)


def run_bundle(args: argparse.Namespace) -> dict:
    """Compress the heads onto one set of codebooks and write them as one bundle."""
    from ..compression.multihead import compress_heads
    from ..format.multihead_file import save_multihead
    from ..io import read_model

    loaded = [read_model(path, **model_source(args)) for path in args.heads]
    names = [Path(path).name.split(".")[0] for path in args.heads]
    metadata = [{**item.metadata, "source": Path(path).name} for item, path in zip(loaded, args.heads)]
    with progress_bar() as progress:
        progress(0.0, f"compressing {names[0]} and assigning the other heads to its codebooks")
        heads = compress_heads([item.model for item in loaded], _config(args), metadata)
    size = save_multihead(heads, args.out, names)
    return {"out": str(args.out), "file_bytes": size, "heads": names}
