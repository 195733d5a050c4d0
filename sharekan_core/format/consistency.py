"""A decoded compressed model checked against its method's config and against the file's own tensors.

The readers check each tensor against its own header entry (dtype, byte count, shape). These
checks tie the entries together, so a forged or hand-edited header cannot describe a model the
compressor never writes: every stored tensor is declared and every declared one stored, each
component's bit-width is the one the config gives it, each layer uses its own codebook (or the
one shared codebook), and all layers share one spline order and grid size, as a KAN does.
"""
from __future__ import annotations

from typing import Iterable

from ..compression.compressed import CompressedKAN, CompressedLayer
from ..compression.methods.uniform import stored_layout
from ..errors import SharekanError
from ..ranges import CONFIG_BITS as CODEBOOK_BITS  # codebooks are stored only at the configs' widths

_PER_EDGE = ("coefficients", "gains", "biases", "base_weights")


def check_consistent(compressed: CompressedKAN) -> None:
    """Raise SharekanError unless codebooks, layers, widths and grids agree with the config and each other."""
    config = compressed.config
    if hasattr(config, "check_layers"):
        config.check_layers(len(compressed.layers))
    _check_codebook_references(compressed)
    first = compressed.layers[0]
    for index, layer in enumerate(compressed.layers):
        _check_components(index, layer, config)
        _check_grid(index, layer, first)


def check_stored_names(stored: Iterable[str], expected: Iterable[str]) -> None:
    """Raise SharekanError unless the file's tensor names are exactly those its header accounts for."""
    stored, expected = set(stored), set(expected)
    undeclared, missing = sorted(stored - expected), sorted(expected - stored)
    if undeclared:
        raise SharekanError(f"tensor '{undeclared[0][:80]}' is stored but the header does not declare it "
                            f"({len(undeclared)} such tensor(s))")
    if missing:
        raise SharekanError(f"missing tensor '{missing[0][:80]}'")


def _check_codebook_references(compressed: CompressedKAN) -> None:
    config, codebooks = compressed.config, compressed.codebooks
    if "codebook" not in config.component_bits(0):
        if codebooks or any(layer.codebook_id is not None for layer in compressed.layers):
            raise SharekanError(f"method {config.method!r} stores no codebook, but the header declares one")
        return
    shared = config.scope == "global"
    expected = 1 if shared else len(compressed.layers)
    if len(codebooks) != expected:
        raise SharekanError(f"scope {config.scope!r} needs {expected} codebook(s) for {len(compressed.layers)} "
                            f"layer(s), the header declares {len(codebooks)}")
    for index, layer in enumerate(compressed.layers):
        own = 0 if shared else index
        if layer.codebook_id != own:
            raise SharekanError(f"layer {index} names codebook {layer.codebook_id}; with scope {config.scope!r} "
                                f"it must use codebook {own}")
    for cid, codebook in enumerate(codebooks):
        if codebook.bits not in CODEBOOK_BITS:
            raise SharekanError(f"codebooks.{cid} is declared {codebook.bits}-bit; codebooks are stored at "
                                f"{', '.join(map(str, sorted(CODEBOOK_BITS)))} bits")


def _check_components(index: int, layer: CompressedLayer, config) -> None:
    expected = {name: bits for name, bits in config.component_bits(index).items() if name != "codebook"}
    declared = {name: getattr(layer, name).bits for name in _PER_EDGE if getattr(layer, name) is not None}
    if declared != expected:
        raise SharekanError(f"layer {index} declares {_widths(declared)}, but its {config.method!r} config "
                            f"stores {_widths(expected)}")
    if (layer.kept is not None) != (config.method == "prune"):
        raise SharekanError(f"layer {index} {'has' if layer.kept is not None else 'lacks'} an edge mask, "
                            f"which method {config.method!r} {'never stores' if layer.kept is not None else 'needs'}")
    if layer.coefficients is not None:
        layout = (int(layer.kept.sum()), layer.num_coefficients) if layer.kept is not None else stored_layout(
            layer.out_features, layer.in_features, layer.num_coefficients, getattr(config, "group_size", None))
        if tuple(layer.coefficients.shape) != layout:
            raise SharekanError(f"layer {index} coefficients are declared {list(layer.coefficients.shape)}; "
                                f"its config stores them as {list(layout)}")


def _check_grid(index: int, layer: CompressedLayer, first: CompressedLayer) -> None:
    knots, order = layer.grid.shape[1], layer.spline_order
    if knots - 2 * order - 1 < 1:
        raise SharekanError(f"layer {index} has {knots} knots per input, too few for spline order {order}")
    if (order, knots) != (first.spline_order, first.grid.shape[1]):
        raise SharekanError(f"layer {index} has spline order {order} and {knots} knots per input, layer 0 has "
                            f"order {first.spline_order} and {first.grid.shape[1]}; a KAN's layers share both")


def _widths(bits: dict[str, int]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {width}-bit" for name, width in sorted(bits.items())) or "nothing"
