"""Subcommands that run experiments: sweep, transfer, scaling."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..compress import SUPPORTED_BITS, CompressionConfig, compress
from ..errors import SharekanError
from ..experiments import (codebook_transfer, default_codebook_sizes, multihead_storage_curve, run_sweep,
                           task_metric)
from ..experiments.sweep import sweep_document
from ..format import dense_storage
from ..format.multihead_file import save_multihead, shared_and_per_head_bytes
from ..io import read_model, write_bytes_atomic


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("sweep", help="storage-versus-metric table over K, bits, seeds, and pruning",
                              description="Compress MODEL for every K (powers of 2, capped at the edge count), "
                                          "bit-width and seed, measure the task metric, add magnitude pruning at "
                                          "several sparsities, and save raw points, mean/std summary and the "
                                          "Pareto frontier as JSON.")
    p.add_argument("model")
    p.add_argument("--task", choices=("digits", "detection"), help="default: the model's stored task")
    p.add_argument("--data", help="detection only: VOCdevkit folder")
    p.add_argument("--k-min", type=int, default=16)
    p.add_argument("--k-max", type=int, default=65_536)
    p.add_argument("--ks", type=int, nargs="+", help="explicit codebook sizes instead of powers of two")
    p.add_argument("--bits", type=int, nargs="+", default=[32, 8, 4], choices=SUPPORTED_BITS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sparsities", type=float, nargs="*", default=[0.05, 0.1, 0.2, 0.3, 0.5])
    p.add_argument("--out", required=True, help="output JSON (e.g. assets/sweeps/NAME.json)")
    p.set_defaults(handler=run_sweep_command)

    p = subparsers.add_parser("transfer", help="zero-shot: compress TARGET with the codebook learned on SOURCE")
    p.add_argument("source")
    p.add_argument("target")
    _add_config_arguments(p)
    p.add_argument("--task", choices=("digits", "detection"))
    p.add_argument("--data")
    p.set_defaults(handler=run_transfer)

    p = subparsers.add_parser("scaling", help="storage of N heads sharing one codebook, checked against real files",
                              description="Learns the codebook on the first head, assigns the other heads to it, "
                                          "prints N = 1..--max-heads storage, and writes real multi-head bundles "
                                          "for N = 1..number of given heads to check the formula.")
    p.add_argument("heads", nargs="+", help="dense KANs of one architecture (the first one trains the codebook)")
    _add_config_arguments(p)
    p.add_argument("--max-heads", type=int, default=50)
    p.set_defaults(handler=run_scaling)


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codebook-size", "-K", type=int, required=True)
    p.add_argument("--bits", type=int, default=8, choices=SUPPORTED_BITS)
    p.add_argument("--scope", choices=("layer", "global"), default="layer")
    p.add_argument("--seed", type=int, default=0)


def _config(args: argparse.Namespace) -> CompressionConfig:
    return CompressionConfig(codebook_size=args.codebook_size, bits=args.bits, scope=args.scope, seed=args.seed)


def run_sweep_command(args: argparse.Namespace) -> dict:
    """Run the sweep, save its JSON atomically, and return the summary."""
    loaded = read_model(args.model)
    for bits in args.bits:
        CompressionConfig(codebook_size=2, bits=bits)
    metric = task_metric(args.task or loaded.metadata.get("task"), args.data)
    sizes = args.ks or default_codebook_sizes(loaded.model.num_edges, args.k_min, args.k_max)
    for k in sizes:
        CompressionConfig(codebook_size=k)  # validate every K before the long run
    points = run_sweep(loaded.model, metric, sizes, args.bits, args.seeds, args.sparsities)
    document = sweep_document(Path(args.model).name, metric, points)
    write_bytes_atomic(args.out, json.dumps(document, indent=1).encode())
    return {"out": args.out, "summary": document["summary"], "pareto": document["pareto"]}


def run_transfer(args: argparse.Namespace) -> dict:
    """Compare the target's own codebook with the source's."""
    source, target = read_model(args.source), read_model(args.target)
    metric = task_metric(args.task or target.metadata.get("task"), args.data)
    return {"source": args.source, "target": args.target,
            **codebook_transfer(source.model, target.model, _config(args), metric)}


def run_scaling(args: argparse.Namespace) -> dict:
    """Compute the N-head storage curve and check it against real bundles for the given heads."""
    if not 1 <= args.max_heads <= 10_000:
        raise SharekanError(f"--max-heads must be from 1 to 10,000, got {args.max_heads}")
    models = [read_model(path).model for path in args.heads]
    widths = {tuple([m.layers[0].in_features] + [l.out_features for l in m.layers]) for m in models}
    if len(widths) > 1:
        raise SharekanError(f"all heads must share one architecture, got {sorted(widths)}")
    config = _config(args)
    first = compress(models[0], config)
    heads = [first] + [compress(m, config, given_codebooks=first.codebooks) for m in models[1:]]
    shared, per_head = shared_and_per_head_bytes(heads)
    dense_per_head = sum(sum(row.values()) for row in dense_storage(models[0]).values())
    curve = multihead_storage_curve(dense_per_head, shared, per_head[0], args.max_heads)
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, len(heads) + 1):
            size = save_multihead(heads[:n], Path(tmp) / f"bundle{n}.safetensors")
            payload = shared + sum(per_head[:n])
            checks.append({"heads": n, "file_bytes": size, "accounted_bytes": payload, "header_bytes": size - payload})
    return {"dense_bytes_per_head": dense_per_head, "shared_codebook_bytes": shared, "per_head_bytes": per_head,
            "curve": curve, "file_checks": checks}
