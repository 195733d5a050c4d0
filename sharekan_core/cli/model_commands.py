"""Subcommands on models: compress, inspect, decompress, predict."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SharekanError
from ..ranges import MAX_CODEBOOK, MIN_CODEBOOK, SUPPORTED_BITS
from .terminal import progress_bar

if TYPE_CHECKING:
    import numpy as np

MODEL_HELP = ("dense KAN: .safetensors, efficient-kan .pt/.pth, or a pykan checkpoint (the prefix given to "
              "saveckpt, its _state or its _config.yml)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("compress", help="compress a KAN with a shared codebook; prints a JSON report",
                              description="Compress MODEL with SHARe-KAN and write the compressed file. Prints a JSON "
                                          "report with dense_bytes, compressed_bytes, file_bytes, ratio, coef_rel_l2 "
                                          "and per-layer details.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--codebook-size", "-K", type=int, required=True, help=f"codebook size K, {MIN_CODEBOOK}..{MAX_CODEBOOK}")
    p.add_argument("--bits", type=int, default=8, choices=SUPPORTED_BITS, help="bit-width for all components (default 8)")
    for component in ("codebook", "gain", "bias", "base"):
        p.add_argument(f"--{component}-bits", type=int, choices=SUPPORTED_BITS, help=f"override --bits for {component}s")
    p.add_argument("--scope", choices=("layer", "global"), default="layer", help="codebook per layer or one for the model")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--unweighted", action="store_true", help="cluster shapes without gain^2 weights (the paper's plain k-means)")
    p.add_argument("--no-refit", action="store_true", help="keep gain = ||c - bias|| instead of the least-squares refit")
    p.add_argument("--out", required=True, help="output compressed file (.skan / .safetensors)")
    p.set_defaults(handler=run_compress)

    p = subparsers.add_parser("inspect", help="print a model's layers, edges, grid, order and dense bytes as JSON "
                                              "(a multi-head bundle: its shared codebooks and every head)")
    p.add_argument("model", help="dense KAN, compressed file or multi-head bundle")
    p.set_defaults(handler=run_inspect)

    p = subparsers.add_parser("decompress", help="rebuild a dense KAN from a compressed file")
    p.add_argument("compressed", help="file written by 'compress'")
    p.add_argument("--out", required=True, help="output dense model (.safetensors)")
    p.set_defaults(handler=run_decompress)

    p = subparsers.add_parser("predict", help="run a dense or compressed KAN on a .npy array")
    p.add_argument("model", help="dense KAN, compressed file or multi-head bundle")
    p.add_argument("--head", help="the head of a multi-head bundle to run")
    p.add_argument("--input", required=True, help="float array (batch, in_features) saved with numpy.save")
    p.add_argument("--out", required=True, help="output .npy (batch, out_features)")
    p.set_defaults(handler=run_predict)


def run_compress(args: argparse.Namespace) -> dict:
    """Compress, write atomically, and return the JSON report."""
    from ..compress import CompressionConfig
    from ..io import read_model, write_bytes_atomic
    from ..results import compress_and_measure

    config = CompressionConfig(codebook_size=args.codebook_size, bits=args.bits, codebook_bits=args.codebook_bits,
                               gain_bits=args.gain_bits, bias_bits=args.bias_bits, base_bits=args.base_bits,
                               scope=args.scope, seed=args.seed, weighted=not args.unweighted,
                               refit_gain=not args.no_refit)
    loaded = read_model(args.model)
    with progress_bar() as progress:
        result = compress_and_measure(loaded.model, config, progress,
                                      metadata={**loaded.metadata, "source": Path(args.model).name})
    write_bytes_atomic(args.out, result.encoded)
    return {**result.report(), "out": str(args.out)}


def run_inspect(args: argparse.Namespace) -> dict:
    """Describe a dense model or a compressed file."""
    from ..compress import decompress
    from ..format.accounting import model_summary
    from ..format.compressed_file import is_compressed_file, load_compressed
    from ..io import read_model
    from ..format.multihead_file import bundle_summary, is_multihead_file, load_multihead
    from ..metrics import coefficient_statistics

    if is_multihead_file(args.model):
        return bundle_summary(load_multihead(args.model))
    if is_compressed_file(args.model):
        model, kind = decompress(load_compressed(args.model)), "compressed"
    else:
        loaded = read_model(args.model)
        model, kind = loaded.model, loaded.source_format
    return {"format": kind, **model_summary(model), "statistics": coefficient_statistics(model)}


def run_decompress(args: argparse.Namespace) -> dict:
    """Write the dense reconstruction of a compressed file."""
    from ..compress import decompress
    from ..format.compressed_file import load_compressed
    from ..io import save_model

    compressed = load_compressed(args.compressed)
    save_model(decompress(compressed), args.out, {**compressed.metadata, "decompressed_from": Path(args.compressed).name})
    return {"out": str(args.out), "edges": compressed.num_edges}


def run_predict(args: argparse.Namespace) -> dict:
    """Run a model on an input array and save the outputs atomically."""
    import numpy as np
    import torch

    from ..io.atomic import atomic_path
    from ..runtime import load_runnable

    runnable = load_runnable(args.model, args.head)
    inputs = read_input_array(args.input, runnable.in_features)
    if len(inputs) == 0:
        outputs = np.zeros((0, runnable.out_features), dtype=np.float32)
    else:
        with torch.no_grad():
            outputs = runnable.module(torch.from_numpy(inputs)).numpy()
    if not np.isfinite(outputs).all():
        raise SharekanError(f"the model's outputs overflow to Inf or NaN on {Path(args.input).name} (largest |input| "
                            f"{float(np.abs(inputs).max()):.3g}); inputs this far outside the model's grid are not usable")
    with atomic_path(args.out) as tmp:
        with tmp.open("wb") as handle:
            np.save(handle, outputs)
    return {"out": str(args.out), "shape": list(outputs.shape)}


def read_input_array(path: str | Path, in_features: int) -> np.ndarray:
    """Load a (batch, in_features) float array from .npy without pickle, validated."""
    import numpy as np

    from ..errors import os_error_message
    from ..io.limits import check_budget

    name = Path(path).name
    try:
        if Path(path).is_file() and Path(path).stat().st_size == 0:
            raise SharekanError(f"{name}: file is empty")
        # Mapped, not read: the declared shape is checked against the file's size before any copy.
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise SharekanError(os_error_message(exc)) from None
    except (ValueError, OSError, EOFError) as exc:
        raise SharekanError(f"{name}: not a readable .npy array ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
        raise SharekanError(f"{name}: expected a numeric array, got dtype {getattr(array, 'dtype', '?')}")
    check_budget(array.size * 4, name, "the input as float32")
    array = np.array(array)  # a private, writable copy of the mapped file
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise SharekanError(f"{name}: input contains NaN or Inf values")
    if array.dtype.kind == "f" and array.size and float(np.abs(array).max()) > float(np.finfo(np.float32).max):
        raise SharekanError(f"{name}: input has values beyond float32 range (|x| > {float(np.finfo(np.float32).max):.3g})")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != in_features:
        raise SharekanError(f"{name}: expected shape (batch, {in_features}), got {tuple(array.shape)}")
    return np.ascontiguousarray(array, dtype=np.float32)
