"""Subcommands on models: compress, inspect, decompress, predict."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ..compress import SUPPORTED_BITS, CompressionConfig, decompress
from ..errors import SharekanError
from ..format import dense_storage
from ..format.compressed_file import is_compressed_file, load_compressed
from ..io import read_model, save_model, write_bytes_atomic
from ..io.atomic import atomic_path
from ..metrics import coefficient_statistics
from ..results import compress_and_measure
from ..runtime import load_runnable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("compress", help="compress a KAN with a shared codebook; prints a JSON report",
                              description="Compress MODEL with SHARe-KAN and write the compressed file. Prints a JSON "
                                          "report with dense_bytes, compressed_bytes, file_bytes, ratio, coef_rel_l2 "
                                          "and per-layer details.")
    p.add_argument("model", help="dense KAN: .safetensors, efficient-kan .pt/.pth, or pykan *_state")
    p.add_argument("--codebook-size", "-K", type=int, required=True, help="codebook size K, 2..65536")
    p.add_argument("--bits", type=int, default=8, choices=SUPPORTED_BITS, help="bit-width for all components (default 8)")
    for component in ("codebook", "gain", "bias", "base"):
        p.add_argument(f"--{component}-bits", type=int, choices=SUPPORTED_BITS, help=f"override --bits for {component}s")
    p.add_argument("--scope", choices=("layer", "global"), default="layer", help="codebook per layer or one for the model")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--unweighted", action="store_true", help="cluster shapes without gain^2 weights (the paper's plain k-means)")
    p.add_argument("--no-refit", action="store_true", help="keep gain = ||c - bias|| instead of the least-squares refit")
    p.add_argument("--out", required=True, help="output compressed file (.skan / .safetensors)")
    p.set_defaults(handler=run_compress)

    p = subparsers.add_parser("inspect", help="print a model's layers, edges, grid, order and dense bytes as JSON")
    p.add_argument("model", help="dense KAN or compressed file")
    p.set_defaults(handler=run_inspect)

    p = subparsers.add_parser("decompress", help="rebuild a dense KAN from a compressed file")
    p.add_argument("compressed", help="file written by 'compress'")
    p.add_argument("--out", required=True, help="output dense model (.safetensors)")
    p.set_defaults(handler=run_decompress)

    p = subparsers.add_parser("predict", help="run a dense or compressed KAN on a .npy array")
    p.add_argument("model", help="dense KAN or compressed file")
    p.add_argument("--input", required=True, help="float array (batch, in_features) saved with numpy.save")
    p.add_argument("--out", required=True, help="output .npy (batch, out_features)")
    p.set_defaults(handler=run_predict)


def run_compress(args: argparse.Namespace) -> dict:
    """Compress, write atomically, and return the JSON report."""
    config = CompressionConfig(codebook_size=args.codebook_size, bits=args.bits, codebook_bits=args.codebook_bits,
                               gain_bits=args.gain_bits, bias_bits=args.bias_bits, base_bits=args.base_bits,
                               scope=args.scope, seed=args.seed, weighted=not args.unweighted,
                               refit_gain=not args.no_refit)
    loaded = read_model(args.model)
    result = compress_and_measure(loaded.model, config, metadata={**loaded.metadata, "source": Path(args.model).name})
    write_bytes_atomic(args.out, result.encoded)
    return {**result.report(), "out": str(args.out)}


def run_inspect(args: argparse.Namespace) -> dict:
    """Describe a dense model or a compressed file."""
    if is_compressed_file(args.model):
        compressed = load_compressed(args.model)
        model, kind = decompress(compressed), "compressed"
    else:
        loaded = read_model(args.model)
        model, kind = loaded.model, loaded.source_format
    dense = dense_storage(model)
    first = model.layers[0]
    return {
        "format": kind,
        "widths": [first.in_features, *(layer.out_features for layer in model.layers)],
        "layers": [{"layer": i, "in": l.in_features, "out": l.out_features, "edges": l.in_features * l.out_features,
                    "dense_bytes": sum(dense[str(i)].values())} for i, l in enumerate(model.layers)],
        "edges": model.num_edges,
        "grid_size": first.grid_size,
        "spline_order": first.spline_order,
        "coefficients_per_edge": first.num_coefficients,
        "dense_bytes": sum(sum(row.values()) for row in dense.values()),
        "statistics": coefficient_statistics(model),
    }


def run_decompress(args: argparse.Namespace) -> dict:
    """Write the dense reconstruction of a compressed file."""
    compressed = load_compressed(args.compressed)
    save_model(decompress(compressed), args.out, {**compressed.metadata, "decompressed_from": Path(args.compressed).name})
    return {"out": str(args.out), "edges": compressed.num_edges}


def run_predict(args: argparse.Namespace) -> dict:
    """Run a model on an input array and save the outputs atomically."""
    runnable = load_runnable(args.model)
    inputs = read_input_array(args.input, runnable.in_features)
    with torch.no_grad():
        outputs = runnable.module(torch.from_numpy(inputs)).numpy()
    with atomic_path(args.out) as tmp:
        with tmp.open("wb") as handle:
            np.save(handle, outputs)
    return {"out": str(args.out), "shape": list(outputs.shape)}


def read_input_array(path: str | Path, in_features: int) -> np.ndarray:
    """Load a (batch, in_features) float array from .npy without pickle, validated."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SharekanError(f"no such file: {path}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise SharekanError(f"{Path(path).name}: not a readable .npy array ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
        raise SharekanError(f"{Path(path).name}: expected a numeric array, got dtype {getattr(array, 'dtype', '?')}")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != in_features:
        raise SharekanError(f"{Path(path).name}: expected shape (batch, {in_features}), got {tuple(array.shape)}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise SharekanError(f"{Path(path).name}: input contains NaN or Inf values")
    return array
