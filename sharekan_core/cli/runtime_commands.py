"""Subcommands on the runtime: export (ExecuTorch .pte) and cache (cache-residency model)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..ranges import check_int
from .model_commands import add_head_option, add_model_source_options, model_source
from .terminal import native_stderr_silenced, progress_bar

MAX_BATCH = 4096


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("export", help="export a dense or compressed KAN to an ExecuTorch .pte; prints JSON",
                              description="Write an ExecuTorch program whose method 'forward' takes the float32 "
                                          "(batch, in_features) input of 'predict' and returns its output, for any batch "
                                          "from 1 to --max-batch. A compressed file's program holds its codes at their "
                                          "stored width and decodes them on each call. The program is run at batches "
                                          "1, 32 and the maximum against 'predict' as a check.")
    p.add_argument("model", help="dense KAN, compressed file or multi-head bundle")
    add_head_option(p, head_file=False, help="the head of a multi-head bundle to export")
    add_model_source_options(p, between=True)
    p.add_argument("--pte", required=True, help="output .pte (written atomically)")
    p.add_argument("--xnnpack", action="store_true", help="lower supported operators to the XNNPACK delegate")
    p.add_argument("--max-batch", type=int, default=1024, help="most rows per call of the program (default 1024)")
    p.set_defaults(handler=run_export)

    p = subparsers.add_parser("cache", help="cache-residency model of a compressed file; prints JSON",
                              description="Per layer and for the whole head: codebook bytes (resident) and indices, "
                                          "gains, biases, base weights (streamed per call), the host cache level each "
                                          "fits in, and the published L2 of named edge and datacenter parts. "
                                          "per_call_batch_1: the bytes one call touches per cache level for the "
                                          "dense forms and the fused compressed kernel, with an energy estimate "
                                          "(Horowitz, ISSCC 2014, 45 nm).")
    p.add_argument("compressed", help="file written by 'compress'")
    p.set_defaults(handler=run_cache)


def run_export(args: argparse.Namespace) -> dict:
    """Export, then run the program once and compare with eager."""
    import torch

    from ..runtime import load_runnable
    from ..runtime.loading import check_flat
    from ..runtime.executorch_export import export_pte, load_pte

    check_int("--max-batch", args.max_batch, 1, MAX_BATCH)
    runnable = load_runnable(args.model, args.head, **model_source(args))
    check_flat(runnable, "export")
    with progress_bar() as progress:
        progress(0.0, "exporting the ExecuTorch program")
        size = export_pte(runnable.program_module(), runnable.in_features, args.pte, args.max_batch, args.xnnpack)
        progress(0.8, "checking the program against eager PyTorch")
        with native_stderr_silenced():
            program = load_pte(args.pte)
            differences = {}
            for batch in sorted({1, min(32, args.max_batch), args.max_batch}):
                probe = torch.rand(batch, runnable.in_features) * 2.4 - 1.2
                with torch.no_grad():
                    eager = runnable.module(probe)
                differences[batch] = float((program(probe) - eager).abs().max() / eager.abs().max().clamp_min(1e-30))
    return {"out": str(args.pte), "pte_bytes": size, "kind": runnable.kind, "xnnpack": args.xnnpack,
            "max_batch": args.max_batch, "in_features": runnable.in_features, "out_features": runnable.out_features,
            "relative_difference_vs_eager_by_batch": differences,
            "max_relative_difference_vs_eager": max(differences.values()), "source": Path(args.model).name,
            "source_bytes": Path(args.model).stat().st_size}


def run_cache(args: argparse.Namespace) -> dict:
    """Return the residency report, and per form the bytes one batch-1 call touches with its energy estimate."""
    from ..format.compressed_file import load_compressed
    from ..costs.cache_residency import residency_report
    from ..costs.energy import dense_vs_compressed

    compressed = load_compressed(args.compressed)
    report = residency_report(compressed)
    return {**report, "per_call_batch_1": dense_vs_compressed(compressed, 1, report["host_caches"])}
