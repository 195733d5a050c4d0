"""Subcommands on the runtime: export (ExecuTorch .pte) and cache (cache-residency model)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..errors import SharekanError
from ..format.compressed_file import load_compressed
from ..runtime import load_runnable
from ..runtime.cache_model import residency_report


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("export", help="export a dense or compressed KAN to an ExecuTorch .pte; prints JSON",
                              description="Write an ExecuTorch program whose method 'forward' takes the float32 "
                                          "(batch, in_features) input of 'predict' and returns its output. Compressed "
                                          "files run in the compressed domain (no dense spline tensor). The batch is "
                                          "fixed at export. The program is run once against eager PyTorch as a check.")
    p.add_argument("model", help="dense KAN or compressed file")
    p.add_argument("--pte", required=True, help="output .pte (written atomically)")
    p.add_argument("--xnnpack", action="store_true", help="lower supported operators to the XNNPACK delegate")
    p.add_argument("--batch", type=int, default=1, help="rows per call of the program (default 1)")
    p.set_defaults(handler=run_export)

    p = subparsers.add_parser("cache", help="cache-residency model of a compressed file; prints JSON",
                              description="Per layer and for the whole head: codebook bytes (resident) and indices, "
                                          "gains, biases, base weights (streamed per call), the host cache level each "
                                          "fits in, and the published L2 of named edge and datacenter parts.")
    p.add_argument("compressed", help="file written by 'compress'")
    p.set_defaults(handler=run_cache)


def run_export(args: argparse.Namespace) -> dict:
    """Export, then run the program once and compare with eager."""
    from ..runtime.executorch_export import export_pte, load_pte

    if not 1 <= args.batch <= 4096:
        raise SharekanError(f"--batch must be an integer from 1 to 4,096, got {args.batch}")
    runnable = load_runnable(args.model)
    size = export_pte(runnable.module, runnable.in_features, args.pte, batch=args.batch, xnnpack=args.xnnpack)
    probe = torch.rand(args.batch, runnable.in_features) * 2.4 - 1.2
    with torch.no_grad():
        eager = runnable.module(probe)
    program = load_pte(args.pte)
    difference = float((program(probe) - eager).abs().max())
    return {"out": str(args.pte), "pte_bytes": size, "kind": runnable.kind, "xnnpack": args.xnnpack,
            "batch": args.batch, "in_features": runnable.in_features, "out_features": runnable.out_features,
            "max_abs_difference_vs_eager": difference, "source": Path(args.model).name}


def run_cache(args: argparse.Namespace) -> dict:
    """Return the residency report."""
    return residency_report(load_compressed(args.compressed))
