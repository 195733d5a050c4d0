"""One home for the compressed runtime's route choice and tile sizes, for the numba kernels and the torch paths.

A compressed layer's call runs one of three routes (``fused_kernel``):

    row       B < GROUPED_FROM_ROWS: per row, the affine-out kernel (k + 1 packed codes per edge)
    grouped   up to TILE_FROM_ROWS: per input, rows grouped by knot interval; one unpack per
              distinct interval and edge, then 7 multiply-adds per edge and row
    tile      from TILE_FROM_ROWS: decode each codeword once into a cache-sized float tile and
              apply it to every row with one matrix product

The thresholds are a rule, not a load-time measurement: a timed choice would make a row's result
depend on how busy the machine was at load. They come from timing the three routes against each
other, interleaved in one process, at batches 1 to 1,024 on the 1M-edge synthetic head and the
shipped detection head (AMD EPYC, AVX2, 2 cores): the row kernel is fastest at 1 and 2 rows
and ties the grouped one at 4; the grouped kernel beats the tile route up to 512 rows on both
heads, and the tile route wins on the detection head from 1,024.
"""
from __future__ import annotations

MAX_TAPS = 4            # the row and grouped kernels hold k + 1 <= 4 taps per interval (spline order <= 3)
GROUPED_FROM_ROWS = 4   # batches from this many rows take the grouped kernel
TILE_FROM_ROWS = 1024   # ... and from this many the tile route
OUTPUT_ALIGN = 16       # thread blocks start on multiples of 16 outputs, so every output is computed by the
                        # same vector lanes whatever the thread count (bit-identical results)
TILE_BYTES = 1 << 21    # one decoded float32 tile of the numba tile route: 2 MiB, in L3 beside the streamed codes
TILE_FLOATS = 1 << 18   # one decoded (T, in, D) tile of the torch tile path: 1 MiB


def index_bytes(codebook_size: int) -> int:
    """Bytes of one in-memory codeword index: 1 for K <= 256, else 2 (K is at most 65,536).

    The one home for the index width: the numba kernels hold uint8 or uint16, the cost models count these
    bytes, and the torch path widens only where torch lacks the unsigned type (``compressed_kan.index_dtype``)."""
    if not 1 <= codebook_size <= 65_536:
        raise ValueError(f"codebook_size must be 1 to 65,536, got {codebook_size}")
    return 1 if codebook_size <= 256 else 2


def fused_route(batch: int, order: int) -> str:
    """'row', 'grouped' or 'tile': the numba route for ``batch`` rows of a layer of spline ``order``."""
    if order + 1 > MAX_TAPS or batch >= TILE_FROM_ROWS:
        return "tile"
    return "row" if batch < GROUPED_FROM_ROWS else "grouped"


GROUPED_L1_BYTES = 24 << 10  # a grouped block's accumulators and tap rows: within a 32 KiB L1d


def grouped_block_outputs(batch: int) -> int:
    """Outputs per block of the grouped kernel: its (B + 8) float rows of them stay in L1."""
    outputs = GROUPED_L1_BYTES // ((batch + 8) * 4) // OUTPUT_ALIGN * OUTPUT_ALIGN
    return max(4 * OUTPUT_ALIGN, min(32 * OUTPUT_ALIGN, outputs))


def output_blocks(out_features: int, blocks: int) -> list[tuple[int, int]]:
    """(first, count) of about ``blocks`` output blocks, each starting on a multiple of ``OUTPUT_ALIGN``."""
    units = -(-out_features // OUTPUT_ALIGN)
    blocks = max(1, min(blocks, units))
    bounds = [min(out_features, (n * units // blocks) * OUTPUT_ALIGN) for n in range(blocks + 1)]
    return [(bounds[n], bounds[n + 1] - bounds[n]) for n in range(blocks) if bounds[n + 1] > bounds[n]]


RESPONSE_BUDGET = 1 << 23  # floats of (rows, in, K) responses per chunk (32 MiB): bounds memory at large batches
# The torch paths of ``CompressedDomainKAN`` (no numba, or exported programs) choose between the
# response path and the tile path by these per-element costs (ns), measured on this 2-core host with
# one thread (see bench/runtime.py):
# a skinny (rows, D) @ (D, K) response product is bound by writing its output; gathers are slow.
NS_RESPONSE_OUTPUT = 0.5
NS_PER_MAC = 0.02
NS_PER_GATHER = 2.0
NS_TILE_DECODE = 0.5  # embedding lookup plus gain multiply, per decoded coefficient
NS_TILE_MAC = 0.05


def use_tiles(batch: int, in_features: int, out_features: int, codebook_size: int, num_bases: int) -> bool:
    """True when decoding tiles is cheaper than the per-input codeword responses for this call."""
    edges = in_features * out_features
    response_cost = (batch * in_features * codebook_size * (NS_PER_MAC * num_bases + NS_RESPONSE_OUTPUT)
                     + NS_PER_GATHER * batch * edges)
    tile_cost = NS_TILE_DECODE * edges * num_bases + NS_TILE_MAC * batch * edges * num_bases
    return tile_cost < response_cost
