"""Bytes one forward call touches, per item and per cache level: dense heads against the fused compressed kernel.

Counted from shapes and bit-widths, for the layouts and loop orders the kernels really use
(E = out * in edges, D = G + k coefficients, k + 1 non-zero bases per input, B rows):

dense, efficient-kan eager   spline_weight 4D + spline_scaler 4 + base_weight 4 = 60 B/edge read, plus the
                             (out, in, D) scaled copy it builds every call (4D written, 4D read again)
dense, pre-scaled            pre-scaled spline weights 4D + base weight 4 = 56 B/edge (eager or the
                             local-support kernel: a 52-byte coefficient row spans whole cache lines, so
                             reading k + 1 of its D floats still moves the row); per-row tables per edge
compressed, fused kernel     (``runtime.fused_kernel``) index (1 B for K <= 256, else 2 B) + gain, bias and
                             base codes at their in-memory width (1 B at 8 and 4 bits, 2 B at 16, 4 B at 32);
                             the route is ``routes.fused_route``'s:
  row (small B)              row -> input -> outputs: every row streams the per-edge codes again, gathers one
                             packed tap word per edge (4 B at 8 bits) from the window's slice of the tap
                             table into a buffer (written, then read), and updates four float accumulators
  grouped                    input -> knot window -> row: the codes once per call; per distinct window (at
                             most min(B, S)) one word per edge gathered and four gain-scaled tap rows
                             written; per edge and row 7 float reads and one accumulator read and write
  tile (large B)             the codes once, D codebook codes per edge decoded into a float tile (written,
                             then read by one matrix product), the placed bases read once per tile

Each item is charged to the smallest cache level that holds the set it belongs to: the per-call
stream (every layer's per-edge bytes plus the resident codebooks), the resident codebooks, the
per-row tables, scratch (accumulators, responses or the decoded tile), or the outputs.
Counts are per thread's share where threads split the work (one thread assumed).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compression.packing import FP32
from ..errors import SharekanError
from ..ranges import MAX_CODEBOOK, check_int
from ..runtime.routes import MAX_TAPS, TILE_BYTES, fused_route, index_bytes
from .cache_residency import fits_in

INT64 = 8


@dataclass(frozen=True)
class LayerShape:
    """One layer's shape: inputs, outputs, coefficients per edge D and spline order k."""

    in_features: int
    out_features: int
    num_bases: int
    order: int

    @property
    def edges(self) -> int:
        """Edges, out * in."""
        return self.in_features * self.out_features


@dataclass(frozen=True)
class CodeWidths:
    """In-memory bytes per stored value of the compressed head, as the fused kernel holds them."""

    index: int
    gain: int
    bias: int
    base: int
    codebook: int
    codebook_size: int

    @property
    def per_edge(self) -> int:
        """Bytes streamed once per edge and call: index plus gain, bias and base codes."""
        return self.index + self.gain + self.bias + self.base


@dataclass(frozen=True)
class Touched:
    """One item a call touches: its bytes, which set it belongs to, and the cache level it is read from."""

    item: str
    nbytes: int
    working_set: str  # 'stream', 'resident', 'tables', 'scratch' or 'output'
    level: str = "unknown"


def code_width(bits: int) -> int:
    """In-memory bytes of one code stored at ``bits`` bits (4-bit codes are unpacked to a byte)."""
    if bits not in (4, 8, 16, 32):
        raise SharekanError(f"bits must be 4, 8, 16 or 32, got {bits}")
    return {4: 1, 8: 1, 16: 2, 32: 4}[bits]


def index_width(codebook_size: int) -> int:
    """In-memory bytes of one index into a codebook of ``codebook_size`` codewords (the runtime's width)."""
    check_int("codebook_size", codebook_size, 1, MAX_CODEBOOK)
    return index_bytes(codebook_size)


def table_bytes_per_input_row(order: int, with_offset: bool = True) -> int:
    """Bytes of one (input, row) table entry: int64 start, k + 1 float weights, offset, basis sum, base activation."""
    return INT64 + FP32 * (order + 1) + FP32 * (3 if with_offset else 2)


def dense_touched(shapes: list[LayerShape], batch: int, form: str = "pre-scaled") -> list[Touched]:
    """Items a dense call touches; ``form`` is 'efficient-kan' (eager, scaled copy each call) or 'pre-scaled'."""
    if form not in ("efficient-kan", "pre-scaled"):
        raise SharekanError(f"dense form must be 'efficient-kan' or 'pre-scaled', got {form!r}")
    items = []
    for n, s in enumerate(shapes):
        items.append(Touched(f"layer {n}: spline coefficients", s.edges * s.num_bases * FP32, "stream"))
        items.append(Touched(f"layer {n}: base weights", s.edges * FP32, "stream"))
        if form == "efficient-kan":
            items.append(Touched(f"layer {n}: spline scaler", s.edges * FP32, "stream"))
            # the scaled (out, in, D) copy: written once, then read by the matrix product
            items.append(Touched(f"layer {n}: scaled spline copy (write + read)", 2 * s.edges * s.num_bases * FP32,
                                 "stream"))
        items.append(Touched(f"layer {n}: per-row tables", s.edges * batch * table_bytes_per_input_row(s.order, False),
                             "tables"))
        items.append(Touched(f"layer {n}: outputs", batch * s.out_features * FP32, "output"))
    return items


def tap_word_bytes(widths: CodeWidths) -> int:
    """Bytes of one packed tap word: ``MAX_TAPS`` codebook codes side by side."""
    return MAX_TAPS * widths.codebook


def distinct_windows(shape: LayerShape, batch: int) -> int:
    """Knot windows a grouped call unpacks per input at most: min(B, S)."""
    return min(batch, shape.num_bases - shape.order)


def tile_rows(shape: LayerShape) -> int:
    """Output rows per decoded tile of the tile route (as ``FusedLayer`` sizes it)."""
    return max(1, min(shape.out_features, TILE_BYTES // (shape.in_features * (shape.num_bases + 1) * FP32)))


def compressed_touched(shapes: list[LayerShape], widths: list[CodeWidths], batch: int) -> list[Touched]:
    """Items a fused-kernel call touches for a compressed head (one ``CodeWidths`` per layer)."""
    if len(shapes) != len(widths):
        raise SharekanError(f"{len(shapes)} layer shapes but {len(widths)} code widths")
    items = []
    for n, (s, w) in enumerate(zip(shapes, widths)):
        name = f"layer {n}: "
        route, features, word = fused_route(batch, s.order), s.num_bases + 1, tap_word_bytes(w)
        tables = batch * s.in_features * table_bytes_per_input_row(max(s.order, MAX_TAPS - 1))
        if route == "row":
            items.append(Touched(name + "per-edge codes (index, gain, bias, base)", batch * s.edges * w.per_edge,
                                 "stream"))
            items.append(Touched(name + "packed tap words gathered", batch * s.edges * word, "resident"))
            items.append(Touched(name + "gather buffer and 4 accumulators (read + write)",
                                 2 * batch * s.edges * (word + 4 * FP32), "scratch"))
            items.append(Touched(name + "per-row tables", tables, "tables"))
        elif route == "grouped":
            windows = distinct_windows(s, batch)
            items.append(Touched(name + "per-edge codes (index, gain, bias, base)", s.edges * w.per_edge, "stream"))
            items.append(Touched(name + "packed tap words gathered", windows * s.edges * word, "resident"))
            items.append(Touched(name + "dequantized and gain-scaled tap rows (write + read)",
                                 2 * s.edges * (3 + windows * (4 + word // FP32)) * FP32
                                 + batch * s.edges * 7 * FP32, "scratch"))
            items.append(Touched(name + "accumulators (read + write)", 2 * batch * s.edges * FP32, "scratch"))
            items.append(Touched(name + "per-row tables and window groups", tables + batch * s.in_features * 2 * INT64,
                                 "tables"))
        else:
            tiles = -(-s.out_features // tile_rows(s))
            items.append(Touched(name + "per-edge codes (index, gain, bias, base)", s.edges * w.per_edge, "stream"))
            items.append(Touched(name + "codebook codes decoded", s.edges * s.num_bases * w.codebook, "resident"))
            items.append(Touched(name + "decoded tile (write + read)", 2 * s.edges * features * FP32, "scratch"))
            items.append(Touched(name + "per-row tables and placed bases",
                                 batch * s.in_features * (table_bytes_per_input_row(s.order, False)
                                                          + (1 + tiles) * features * FP32), "tables"))
        items.append(Touched(name + "outputs", batch * s.out_features * FP32, "output"))
    return items


def scratch_bytes(shapes: list[LayerShape], widths: list[CodeWidths], batch: int) -> int:
    """Bytes of the largest layer's scratch: gather buffer and accumulators, tap rows, or one decoded tile."""
    sizes = []
    for s, w in zip(shapes, widths):
        route = fused_route(batch, s.order)
        if route == "tile":
            sizes.append(tile_rows(s) * s.in_features * (s.num_bases + 1) * FP32)
        elif route == "row":
            sizes.append(s.out_features * (tap_word_bytes(w) + 4 * FP32))
        else:
            sizes.append(s.out_features * (tap_word_bytes(w) + (7 + batch) * FP32))
    return max(sizes)


def resident_codebook_bytes(shapes: list[LayerShape], widths: list[CodeWidths], shared: bool) -> int:
    """Bytes of the codebooks the kernel keeps resident: codes, the interval-major tap table and a float
    (min, step) per column."""
    sizes = [w.codebook_size * (s.num_bases * w.codebook + (s.num_bases - s.order) * tap_word_bytes(w))
             + 2 * s.num_bases * FP32 for s, w in zip(shapes, widths)]
    return max(sizes) if shared else sum(sizes)


def place(items: list[Touched], set_bytes: dict[str, int], caches: dict[str, int]) -> list[Touched]:
    """Each item with the level that holds its set (``set_bytes``: bytes of each set that must stay cached)."""
    return [Touched(t.item, t.nbytes, t.working_set, fits_in(set_bytes.get(t.working_set, t.nbytes), caches))
            for t in items]


def set_sizes(shapes: list[LayerShape], batch: int, stream_bytes: int, resident_bytes: int,
              order_tables: bool = True, scratch: int = 0) -> dict[str, int]:
    """Bytes each set occupies: the per-call stream, the resident codebooks, the largest layer's tables, scratch,
    outputs."""
    tables = max(s.in_features * batch * table_bytes_per_input_row(s.order, order_tables) for s in shapes)
    outputs = max(batch * s.out_features * FP32 for s in shapes)
    return {"stream": stream_bytes + resident_bytes, "resident": resident_bytes, "tables": tables, "scratch": scratch,
            "output": outputs}


def per_edge_bytes(items: list[Touched], shapes: list[LayerShape], working_set: str = "stream") -> float:
    """Bytes per edge of one set (the stream by default) over the whole head."""
    return sum(t.nbytes for t in items if t.working_set == working_set) / sum(s.edges for s in shapes)


def shapes_of(model) -> list[LayerShape]:
    """Layer shapes of a dense ``KAN``."""
    return [LayerShape(l.in_features, l.out_features, l.num_coefficients, l.spline_order) for l in model.layers]


def compressed_shapes_and_widths(compressed) -> tuple[list[LayerShape], list[CodeWidths]]:
    """Layer shapes and in-memory code widths of a SHARe-KAN ``CompressedKAN`` (codebook with gains and biases)."""
    shapes, widths = [], []
    for layer in compressed.layers:
        if getattr(layer, "gains", None) is None or layer.codebook_id is None:
            raise SharekanError("working sets are counted for SHARe-KAN heads (codebook, gains and biases) only")
        codebook = compressed.codebooks[layer.codebook_id]
        k_eff, num_bases = codebook.shape
        shapes.append(LayerShape(layer.in_features, layer.out_features, int(num_bases), layer.spline_order))
        widths.append(CodeWidths(index_width(int(k_eff)), code_width(layer.gains.bits), code_width(layer.biases.bits),
                                 code_width(layer.base_weights.bits), code_width(codebook.bits), int(k_eff)))
    return shapes, widths


def dense_sets(shapes: list[LayerShape], batch: int, form: str = "pre-scaled") -> dict[str, int]:
    """Bytes each set of a dense call occupies (``set_sizes``); the per-call stream is its weights."""
    stream = sum(t.nbytes for t in dense_touched(shapes, batch, form) if t.working_set == "stream")
    return set_sizes(shapes, batch, stream, 0, order_tables=False)


def compressed_sets(compressed, batch: int) -> dict[str, int]:
    """Bytes each set of a fused-kernel call occupies: per-edge codes plus the resident codebooks, tables, outputs."""
    shapes, widths = compressed_shapes_and_widths(compressed)
    stream = sum(s.edges * w.per_edge for s, w in zip(shapes, widths))  # distinct bytes, however often re-read
    resident = resident_codebook_bytes(shapes, widths, len(compressed.codebooks) == 1)
    tile = all(fused_route(batch, shape.order) == "tile" for shape in shapes)
    return set_sizes(shapes, batch, stream, resident, not tile, scratch_bytes(shapes, widths, batch))


def footprint(sets: dict[str, int]) -> int:
    """Distinct bytes a call needs cached at once: the stream (with any resident codebook), tables, scratch, outputs."""
    return sets["stream"] + sets["tables"] + sets["scratch"] + sets["output"]


def dense_report(shapes: list[LayerShape], batch: int, caches: dict[str, int], form: str = "pre-scaled") -> list[Touched]:
    """Dense items placed in this host's (or the given) caches."""
    return place(dense_touched(shapes, batch, form), dense_sets(shapes, batch, form), caches)


def compressed_report(compressed, batch: int, caches: dict[str, int]) -> list[Touched]:
    """Fused-kernel items of ``compressed`` placed in the given caches."""
    shapes, widths = compressed_shapes_and_widths(compressed)
    return place(compressed_touched(shapes, widths, batch), compressed_sets(compressed, batch), caches)
