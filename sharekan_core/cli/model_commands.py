"""Subcommands on models: compress, inspect, decompress, predict."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SharekanError
from ..ranges import BASE_ACTIVATION_NAMES, ZERO_BASE
from .method_options import add_method_options, method_config, method_names
from .terminal import announce_first_call, progress_bar

if TYPE_CHECKING:
    import numpy as np

    from ..io import LoadedModel
    from ..model.conv_kan import ConvGeometry

LAYOUT_CHOICES = ("sharekan", "efficient-kan", "pykan", "flashkan", "inkan", "kanx", "deep-kan", "convkan",  # io.layouts
                  "native")
MODEL_HELP = ("dense KAN: .safetensors, efficient-kan .pt/.pth, or a pykan checkpoint (the prefix given to "
              "saveckpt, its _state or its _config.yml); a FastKAN, ChebyKAN or Gram/KAGN net's state dict; also a "
              "bigger model's checkpoint holding a KAN head")


def add_model_source_options(parser: argparse.ArgumentParser, between: bool = False) -> None:
    """Add --prefix, --base-activation and --grid: which KAN of a checkpoint, and what a bare state dict does not record;
    with ``between``, also --between (for commands that read FastKAN, ChebyKAN and Gram nets)."""
    parser.add_argument("--prefix", help="the KAN inside a bigger model's checkpoint, by the start of its tensor names "
                                         "(e.g. head.; 'inspect' lists them); not needed when the file holds one KAN")
    parser.add_argument("--base-activation", choices=(*BASE_ACTIVATION_NAMES, ZERO_BASE), metavar="NAME",
                        help="the base branch's activation, which an efficient-kan state dict or a pykan _state without "
                             "its _config.yml does not record (this tool's files and pykan's saveckpt do): silu (both "
                             f"libraries' default), {', '.join(BASE_ACTIVATION_NAMES[1:])}, or zero (pykan's base_fun='zero')")
    parser.add_argument("--grid", metavar="G,k,LOW,HIGH",
                        help="the uniform knot grid of a file that does not save its knots (deep-kan: its num_knots, "
                             "spline_order and grid_range; its defaults are 5,3,-1,1)")
    if between:
        parser.add_argument("--between", choices=("layernorm",),
                            help="what sits between a FastKAN, ChebyKAN or Gram net's layers where a module holds "
                                 "tensors there (ChebyKAN's nets keep a LayerNorm): its state dict does not say")


def add_conv_option(parser: argparse.ArgumentParser) -> None:
    """Add --conv: the kernel, stride and padding of a convkan file, which its state dict does not record."""
    parser.add_argument("--conv", metavar="C,KERNEL[,STRIDE[,PADDING[,DILATION[,MODE]]]]",
                        help="a convkan ConvKAN's input channels, square kernel, stride, padding, dilation and "
                             "padding mode (defaults 1, 0, 1, zeros); its state dict does not record them")


class DeprecatedFlag(argparse.Action):
    """Store the value as the option it is the old spelling of, and say so on stderr (one ``warning:`` line)."""

    def __init__(self, *args, replacement: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.replacement = replacement

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        sys.stderr.write(f"warning: {option_string} is deprecated here; use {self.replacement}\n")
        setattr(namespace, self.dest, values)


def add_head_option(parser: argparse.ArgumentParser | argparse._ActionsContainer, *, head_file: bool,
                    help: str) -> None:
    """Add --head-file (a head's file) or --bundle-head (a multi-head bundle's head, by name), both to ``head``.

    ``--head`` meant either, by command; it stays, hidden and deprecated, as the old spelling of each.
    """
    flag = "--head-file" if head_file else "--bundle-head"
    parser.add_argument(flag, dest="head", metavar="FILE" if head_file else "NAME", help=help)
    parser.add_argument("--head", dest="head", action=DeprecatedFlag, replacement=flag, help=argparse.SUPPRESS)


def model_source(args: argparse.Namespace) -> dict:
    """The ``prefix``, ``base_activation`` and ``grid`` keywords of ``read_model`` from the command's options."""
    stated = {"prefix": getattr(args, "prefix", None), "base_activation": getattr(args, "base_activation", None),
              "grid": getattr(args, "grid", None)}
    return stated if getattr(args, "between", None) is None else {**stated, "between": args.between}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("compress", help="compress a KAN (SHARe-KAN or a baseline method); prints a JSON report",
                              description="Compress MODEL with SHARe-KAN (or --method) and write the compressed file. "
                                          "Prints a JSON report with dense_bytes, compressed_bytes, file_bytes, ratio, "
                                          "coef_rel_l2 and per-layer details.")
    p.add_argument("model", help=MODEL_HELP)
    add_model_source_options(p, between=True)
    add_conv_option(p)
    p.add_argument("--method", choices=method_names(), default="sharekan",
                   help="sharekan (default): shared codebook of gain-shape-bias splines; uniform: round-to-nearest "
                        "coefficients; gptq: GPTQ (needs --calibration); kmeans: k-means of raw coefficient vectors; "
                        "prune: magnitude pruning of edges. Each method reads the options named after it below")
    p.add_argument("--calibration", help="(N, in_features) .npy sample of model inputs: data-aware SHARe-KAN, "
                                         "and GPTQ's Hessian; keep it apart from any evaluation set")
    add_method_options(p)
    p.add_argument("--max-bytes", type=int, help="byte budget: search methods, K and per-component bit-widths for "
                                                 "the lowest output error (on --calibration, else on inputs sampled "
                                                 "inside the grid) whose stored bytes fit; reports the choice")
    p.add_argument("--codebook", help="universal codebook file (e.g. sample_models/universal_codebook.safetensors): "
                                      "assign every edge to it, no clustering")
    p.add_argument("--out", required=True, help="output compressed file (.skan / .safetensors)")
    p.set_defaults(handler=run_compress)

    p = subparsers.add_parser("inspect", help="print a model's layers, edges, grid, order and dense bytes as JSON "
                                              "(a multi-head bundle: its shared codebooks and every head)")
    p.add_argument("model", help="dense KAN, compressed file or multi-head bundle")
    add_model_source_options(p, between=True)
    p.set_defaults(handler=run_inspect)

    p = subparsers.add_parser("decompress", help="rebuild a dense KAN from a compressed file")
    p.add_argument("compressed", help="file written by 'compress'")
    p.add_argument("--out", required=True, help="output dense model (.safetensors for sharekan, else a torch .pt)")
    p.add_argument("--layout", choices=LAYOUT_CHOICES,
                   help="sharekan (default for B-spline KANs): this tool's own file; efficient-kan, pykan, flashkan, "
                        "inkan, kanx or deep-kan: that library's state dict, which its own class loads strictly (the "
                        "report says what to build it with, the base activation included: no state dict holds it); "
                        "native (default, and the only one, for a FastKAN, ChebyKAN or Gram net): its library's layout")
    p.set_defaults(handler=run_decompress)

    p = subparsers.add_parser("predict", help="run a dense or compressed KAN on a .npy array")
    p.add_argument("model", help="dense KAN, compressed file or multi-head bundle")
    add_head_option(p, head_file=False, help="the head of a multi-head bundle to run")
    add_model_source_options(p, between=True)
    add_conv_option(p)
    p.add_argument("--input", required=True, help="float array (batch, in_features) saved with numpy.save; "
                                                   "(N, C, H, W) images for a convolutional KAN")
    p.add_argument("--out", required=True, help="output .npy (batch, out_features); (N, out, H_out, W_out) for images")
    p.set_defaults(handler=run_predict)


def run_compress(args: argparse.Namespace) -> dict:
    """Compress, write atomically, and return the JSON report."""
    from ..io import read_model, write_bytes_atomic
    from ..model.basis_kan import BasisKAN
    from ..results import compress_and_measure
    from ..runtime.loading import CONV_GEOMETRY

    if args.max_bytes is not None or args.codebook is not None:
        return run_budget_or_universal(args)
    config = method_config(args)
    loaded = read_model(args.model, **model_source(args), basis=True)
    if isinstance(loaded.model, BasisKAN):
        return run_compress_basis(args, loaded, config)
    calibration = None
    if args.calibration is not None:
        calibration = read_input_array(args.calibration, loaded.model.layers[0].in_features)
    metadata = source_metadata(loaded, args.model)
    if args.conv is not None:
        metadata[CONV_GEOMETRY] = stated_conv(args.conv, loaded, args.model).as_dict()
    with progress_bar() as progress:
        result = compress_and_measure(loaded.model, config, progress, metadata=metadata, calibration=calibration)
    write_bytes_atomic(args.out, result.encoded)
    return {**result.report(), **found_at(loaded), "out": str(args.out)}


def run_compress_basis(args: argparse.Namespace, loaded: LoadedModel, config: object) -> dict:
    """compress for a FastKAN, ChebyKAN, Gram or torchkan net: SHARe-KAN layer by layer, written as a compressed
    basis-net file."""
    from ..io import write_bytes_atomic
    from ..results import compress_basis_and_measure

    if args.method != "sharekan" or args.conv is not None:
        raise SharekanError(f"{Path(args.model).name}: a {loaded.source_format} net is compressed with SHARe-KAN only "
                            "(no --method, no --conv)")
    calibration = None
    if args.calibration is not None:
        calibration = read_input_array(args.calibration, loaded.model.layers[0].in_features)
    with progress_bar() as progress:
        progress(0.0, f"compressing {len(loaded.model.layers)} {loaded.source_format} layers")
        result = compress_basis_and_measure(loaded, config, calibration, Path(args.model).name)
    write_bytes_atomic(args.out, result.encoded)
    return {**result.report, **found_at(loaded), "out": str(args.out)}


def source_metadata(loaded: LoadedModel, path: str) -> dict:
    """The model's metadata plus where it came from: the file's name and, for a head in a bigger model, its prefix."""
    return {**loaded.metadata, "source": Path(path).name, **({"prefix": loaded.prefix} if loaded.prefix else {})}


def stated_conv(text: str, loaded: LoadedModel, path: str) -> ConvGeometry:
    """The --conv geometry of a convkan file, checked against its patch KAN; refused for any other family."""
    from ..io.kan_groups import CONVKAN
    from ..runtime.loading import conv_geometry

    if loaded.source_format != CONVKAN:
        raise SharekanError(f"--conv applies to convkan files; {Path(path).name} holds a {loaded.source_format} KAN")
    geometry = conv_geometry(text, Path(path).name)
    if geometry.patch_size != loaded.model.layers[0].in_features:
        raise SharekanError(f"--conv {text} gives patches of {geometry.patch_size} inputs, but the KAN takes "
                            f"{loaded.model.layers[0].in_features}")
    return geometry


def found_at(loaded: LoadedModel) -> dict:
    """For a report: the prefix of a KAN found inside a bigger model and how many tensors were left outside it."""
    if not loaded.prefix:
        return {}
    return {"prefix": loaded.prefix, "tensors_outside_prefix": loaded.tensors_outside_prefix}


def run_budget_or_universal(args: argparse.Namespace) -> dict:
    """compress --max-bytes (byte-budget search) or --codebook (universal codebook, assignment only)."""
    from ..compression.config import CompressionConfig
    from ..experiments.budget import search_budget
    from ..experiments.universal import compress_with_universal, load_universal_codebook
    from ..io import read_model, write_bytes_atomic
    from ..model.basis_kan import BasisKAN
    from ..results import measure_compressed

    if args.max_bytes is not None and args.codebook is not None:
        raise SharekanError("--max-bytes and --codebook do not combine; give one")
    if args.method != "sharekan" or args.codebook_size is not None:
        raise SharekanError("--max-bytes and --codebook choose the method and K themselves; drop --method and -K")
    loaded = read_model(args.model, **model_source(args), basis=True)
    if isinstance(loaded.model, BasisKAN):  # no byte-budget search or universal codebook for these nets
        raise SharekanError(f"{Path(args.model).name}: --max-bytes and --codebook search B-spline KANs; compress a "
                            f"{loaded.source_format} net with -K and --bits")
    calibration = None
    if args.calibration is not None:
        calibration = read_input_array(args.calibration, loaded.model.layers[0].in_features)
    metadata = source_metadata(loaded, args.model)
    seed = CompressionConfig.seed if args.seed is None else args.seed  # SHARe-KAN's defaults
    bits = CompressionConfig.bits if args.bits is None else args.bits
    extra = {}
    with progress_bar() as progress:
        if args.max_bytes is not None:
            if args.max_bytes < 1:
                raise SharekanError(f"--max-bytes must be a positive integer, got {args.max_bytes}")
            search = search_budget(loaded.model, args.max_bytes, calibration, seed, progress, metadata)
            compressed, extra = search.compressed, {"budget": search.report()}
        else:
            codebook = load_universal_codebook(args.codebook)
            compressed = compress_with_universal(loaded.model, codebook, bits, calibration, metadata)
            extra = {"universal_codebook": Path(args.codebook).name}
    result = measure_compressed(loaded.model, compressed)
    write_bytes_atomic(args.out, result.encoded)
    return {**result.report(), **extra, **found_at(loaded), "out": str(args.out)}


def run_inspect(args: argparse.Namespace) -> dict:
    """Describe a dense model or a compressed file; for a checkpoint holding several KANs, list them."""
    from ..compression import decompress
    from ..summary import model_summary
    from ..format.basis_net_file import basis_kan_summary, is_basis_kan_file, load_basis_kan
    from ..format.compressed_file import is_compressed_file, load_compressed
    from ..io import read_model
    from ..io.basis_net import basis_kan_constructor
    from ..model.basis_kan import BasisKAN
    from ..io.model_file import kan_groups_in
    from ..format.multihead_file import bundle_summary, is_multihead_file, load_multihead
    from ..fidelity import coefficient_statistics
    from ..runtime.loading import check_dense_only

    if is_basis_kan_file(args.model):
        check_dense_only(args.model, args.prefix, args.base_activation, args.grid, args.between)
        return {"format": "compressed", **basis_kan_summary(load_basis_kan(args.model))}
    if is_multihead_file(args.model) or is_compressed_file(args.model):
        check_dense_only(args.model, args.prefix, args.base_activation, args.grid, args.between)
        if is_multihead_file(args.model):
            return bundle_summary(load_multihead(args.model))
        model = decompress(load_compressed(args.model))
        return {"format": "compressed", **model_summary(model), "statistics": coefficient_statistics(model)}
    if args.prefix is None:
        groups = kan_groups_in(args.model)
        if len(groups) > 1:
            return {"kan_groups": groups, "note": "this checkpoint holds several KANs; pass --prefix with one of "
                                                  "their prefixes to inspect it"}
    loaded = read_model(args.model, **model_source(args), basis=True)
    if isinstance(loaded.model, BasisKAN):
        return {"format": loaded.source_format, "prefix": loaded.prefix, "kan_groups": loaded.kan_groups,
                "tensors_outside_prefix": loaded.tensors_outside_prefix, "edges": loaded.model.num_edges,
                "dense_bytes": loaded.model.nbytes, **basis_kan_constructor(loaded.model)}
    return {"format": loaded.source_format, "prefix": loaded.prefix, "kan_groups": loaded.kan_groups,
            "tensors_outside_prefix": loaded.tensors_outside_prefix,
            "base_activation": loaded.model.config.base_activation, **model_summary(loaded.model),
            "statistics": coefficient_statistics(loaded.model)}


def run_decompress(args: argparse.Namespace) -> dict:
    """Write the dense reconstruction of a compressed file."""
    from ..compression import decompress
    from ..format.basis_net_file import is_basis_kan_file
    from ..format.compressed_file import load_compressed
    from ..io import save_model
    from ..io.layouts import save_layout

    if is_basis_kan_file(args.compressed):
        return decompress_basis(args)
    if args.layout == "native":
        raise SharekanError(f"--layout native applies to FastKAN, ChebyKAN and Gram files; {Path(args.compressed).name} "
                            f"is a B-spline KAN: choose sharekan or one of {', '.join(LAYOUT_CHOICES[1:-1])}")
    compressed = load_compressed(args.compressed)
    model = decompress(compressed)
    if args.layout not in (None, "sharekan"):
        constructor = save_layout(model, args.layout, args.out)
        return {"out": str(args.out), "edges": compressed.num_edges, "layout": args.layout, "build_with": constructor,
                "note": f"the state dict does not hold the base activation: build {args.layout}'s class with "
                        f"{constructor['base_activation']!r} as its base activation, or its outputs will differ"}
    save_model(model, args.out, {**compressed.metadata, "decompressed_from": Path(args.compressed).name})
    return {"out": str(args.out), "edges": compressed.num_edges}


def decompress_basis(args: argparse.Namespace) -> dict:
    """decompress for a compressed FastKAN, ChebyKAN or Gram net: its library's own state dict, laid out as the
    source net kept its layers."""
    from ..compression.basis_net import decompress_basis_kan
    from ..format.basis_net_file import load_basis_kan
    from ..io.basis_net import CONTAINER, save_basis_kan_layout

    compressed = load_basis_kan(args.compressed)
    if args.layout not in (None, "native"):
        raise SharekanError(f"{Path(args.compressed).name} is a compressed {compressed.family} net; it decompresses to "
                            "its library's own layout only (--layout native)")
    container = compressed.metadata.get(CONTAINER, "layers.")
    if container not in ("layers.", "", None) or (container is None and len(compressed.layers) != 1):
        container = "layers."
    constructor = save_basis_kan_layout(decompress_basis_kan(compressed), args.out, container)
    return {"out": str(args.out), "edges": compressed.num_edges, "layout": "native", "build_with": constructor,
            "keys": ("torchkan's own lists: base_weights.N, spline_weights.N, grid_N, layer_norms.N.*, prelus.N.weight "
                     "(spline_scalers.N, all ones, for its earlier version)") if compressed.family == "torchkan"
            else f"{container}N.<{compressed.family}'s names>" if container is not None else "one layer's names",
            "note": f"the state dict does not hold what build_with lists; build {compressed.family}'s layers with it, "
                    "or their outputs will differ"}


def run_predict(args: argparse.Namespace) -> dict:
    """Run a model on an input array and save the outputs atomically."""
    import numpy as np
    import torch

    from ..io.atomic import atomic_path
    from ..model.conv_kan import check_images
    from ..runtime import load_runnable

    runnable = load_runnable(args.model, args.head, **model_source(args), conv=args.conv)
    channels = None if runnable.conv is None else runnable.conv.in_channels
    inputs = read_input_array(args.input, runnable.in_features, channels)
    if channels is not None:  # the images' own checks (the module's forward would raise the same, unnamed)
        try:
            check_images(torch.from_numpy(inputs), runnable.conv)
        except SharekanError as exc:
            raise SharekanError(f"{Path(args.input).name}: {exc}") from None
    if len(inputs) == 0:
        outputs = np.zeros((0, runnable.out_features), dtype=np.float32)
    else:
        with progress_bar() as progress, torch.no_grad():
            announce_first_call(runnable.module, progress)
            outputs = runnable.module(torch.from_numpy(inputs)).numpy()
    if not np.isfinite(outputs).all():
        raise SharekanError(f"the model's outputs overflow to Inf or NaN on {Path(args.input).name} (largest |input| "
                            f"{float(np.abs(inputs).max()):.3g}); inputs this far outside the model's grid are not usable")
    with atomic_path(args.out) as tmp:
        with tmp.open("wb") as handle:
            np.save(handle, outputs)
    return {"out": str(args.out), "shape": list(outputs.shape)}


def read_input_array(path: str | Path, in_features: int, channels: int | None = None) -> np.ndarray:
    """Load a (batch, in_features) float array from .npy without pickle, validated; with ``channels``, (N, C, H, W)
    images of that many channels."""
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
    if channels is not None:
        if array.ndim != 4 or array.shape[1] != channels:
            raise SharekanError(f"{name}: expected images of shape (N, {channels}, H, W), got {tuple(array.shape)}")
    elif array.ndim == 1:
        array = array[None, :]
    if channels is None and (array.ndim != 2 or array.shape[1] != in_features):
        raise SharekanError(f"{name}: expected shape (batch, {in_features}), got {tuple(array.shape)}")
    return np.ascontiguousarray(array, dtype=np.float32)
