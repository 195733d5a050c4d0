"""Fused compressed-domain KAN layer kernels (numba): run straight from the stored codes.

Why numba: it JIT-compiles these loops from pinned wheels (numba 0.68.1, llvmlite 0.50.0), so a
user's machine needs no C++ compiler, as a torch C++ extension would; ``torch.compile`` on the
same gather formulation measures slower than the dense head (bench/runtime.py). The plain
reference every kernel is held to is ``decompress(compressed)(x)``; the pure-torch
``CompressedDomainKAN`` paths are the fallback when numba is missing and what ``export-detector``
traces (a KAN alone exports as ``runtime.program.KANProgram``).

What is held (E = out * in edges, D = G + k coefficients, K codewords, S = D - k knot windows):
    indices                 (in, out)  uint8 for K <= 256, else uint16 (transposed at load, same bytes)
    gains, biases, base     (in, out)  ``EdgeCodes``: uint8 codes with a per-output (minimum, step), or
                                       float16 bits (uint16, decoded in the kernel), or float32
    codebook taps           (S, K)     interval-major: for each window s, the k + 1 taps codebook[:, s:s+k+1]
                                       of every codeword side by side, padded to 4 and packed in one word
                                       (uint32 for 8-bit codes, uint64 for float16 bits; (S, K, 4) float32)
    codebook codes          (K, D)     as stored, for the tile route; per-column (minimum, step)
4-bit codes are unpacked once at load to one uint8 per code; the tap table holds each code up to
k + 1 times. ``nbytes`` counts all of it. Old (format version 1) codebooks with an affine pair per
codeword are dequantized to float32 at load.

Per input and row the knot window and its k + 1 non-zero B-spline bases are computed once
(``input_tables``), with the codebook's column step folded into them, and so is the base activation:
SiLU inside ``input_tables``, any other of ``model.kan.BASE_ACTIVATIONS`` by torch over the same (in, B)
table before the kernels run (``FusedLayer.activation_table``), so no kernel branches on it. ``routes.fused_route``
picks ``row_kernel``, ``grouped_kernel`` or the tile route (``decode_tile`` + one matrix product).
No dequantized (out, in) or (out, in, D) tensor is ever built. Entry points:
``FusedKAN.from_compressed(compressed)`` and ``FusedKAN.__call__``; ``CompressedDomainKAN``
calls them in eager CPU runs.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
import torch
from numba import njit, prange, types
from numba.extending import overload

from ..compression.compressed import CompressedLayer
from ..compression.quantize import QuantizedTensor
from ..model.kan import BASE_ACTIVATIONS
from .routes import MAX_TAPS, TILE_BYTES, fused_route, grouped_block_outputs, index_bytes, output_blocks

# numba's default (workqueue) threading layer may not be entered from two threads at once;
# Streamlit runs each session in its own thread, so kernel launches are serialised.
LAUNCH_LOCK = threading.Lock()
# 2**(e - 25) for float16 exponent e: a half's value is (1024 * [e > 0] + mantissa) * 2**(max(e, 1) - 25).
HALF_SCALE = np.array([2.0 ** (max(e, 1) - 25) for e in range(32)], dtype=np.float32)


class EdgeCodes(NamedTuple):
    """One per-edge component at its stored width, passed to the kernels as one unit."""

    codes_t: np.ndarray  # (in, out) uint8 codes, uint16 float16 bits, or float32
    minimum: np.ndarray  # (out,) float32; zeros for float formats
    step: np.ndarray     # (out,) float32; ones for float formats

    @classmethod
    def from_quantized(cls, tensor: QuantizedTensor) -> "EdgeCodes":
        """The kernel's layout of an (out, in) component with per-row affine."""
        codes, minimum, step = stored_codes(tensor)
        return cls(np.ascontiguousarray(codes.T), minimum, step)

    @property
    def nbytes(self) -> int:
        """Bytes held (4-bit codes count one byte each, as unpacked)."""
        return int(self.codes_t.nbytes + self.minimum.nbytes + self.step.nbytes)


class RowTables(NamedTuple):
    """Per (input, row) tables of one call, (in, B) each, filled by ``input_tables``."""

    start: np.ndarray      # int64 first of the k + 1 basis positions (the knot window)
    weights: np.ndarray    # (in, B, taps) float32 basis values times the codebook's column step
    offset: np.ndarray     # float32 sum_t basis * column minimum
    basis_sum: np.ndarray  # float32 sum of the bases (multiplies the edge bias)
    activation: np.ndarray  # float32 base activation of x, act(x) (multiplies the base weight)

    @classmethod
    def empty(cls, width: int, batch: int, taps: int) -> "RowTables":
        """Tables for ``batch`` rows of ``width`` inputs; weights past the real taps stay zero."""
        return cls(np.empty((width, batch), np.int64), np.zeros((width, batch, taps), np.float32),
                   *(np.empty((width, batch), np.float32) for _ in range(3)))


def as_float(code):  # pragma: no cover - replaced by the overload below inside compiled code
    """float32 value of one stored code: uint16 holds float16 bits; other types convert as they are."""
    raise NotImplementedError


@overload(as_float, inline="always")
def _as_float(code):
    if isinstance(code, types.Integer) and code.bitwidth == 16 and not code.signed:
        def half(code):  # branch-free: normal, subnormal and zero halves (quantize rejects Inf/NaN)
            exponent = (code >> 10) & 31
            mantissa = np.float32((code & 1023) + 1024 * min(exponent, 1))
            sign = np.float32(1 - 2 * (code >> 15))
            return sign * mantissa * HALF_SCALE[exponent]
        return half
    return lambda code: np.float32(code)


def gather_taps(window, index, words):  # pragma: no cover - replaced by the overload below
    """words[jj] <- window[index[jj]]: each edge's packed taps at one knot window (the only gather)."""
    raise NotImplementedError


@overload(gather_taps, inline="always")
def _gather_taps(window, index, words):
    if window.ndim == 1:  # one packed word per codeword
        def gather(window, index, words):
            for jj in range(index.shape[0]):
                words[jj] = window[index[jj]]
        return gather

    def gather_rows(window, index, words):  # float32 taps: four values per codeword
        for jj in range(index.shape[0]):
            row = window[index[jj]]
            for t in range(MAX_TAPS):
                words[jj, t] = row[t]
    return gather_rows


def tap_values(words, jj):  # pragma: no cover - replaced by the overload below
    """The four float32 tap codes of gathered edge ``jj``."""
    raise NotImplementedError


@overload(tap_values, inline="always")
def _tap_values(words, jj):
    if words.ndim == 2:
        return lambda words, jj: (words[jj, 0], words[jj, 1], words[jj, 2], words[jj, 3])
    if words.dtype.bitwidth == 32:  # four 8-bit codes; int32 shifts and masks vectorise, int64 to float does not
        def unpack_bytes(words, jj):
            word = np.int32(words[jj])
            return (np.float32(word & 255), np.float32((word >> 8) & 255), np.float32((word >> 16) & 255),
                    np.float32((word >> 24) & 255))
        return unpack_bytes

    def unpack_halves(words, jj):  # four float16 bit patterns
        word = words[jj]
        low, high = np.uint32(word & np.uint64(0xFFFFFFFF)), np.uint32(word >> np.uint64(32))
        return (as_float(np.uint16(low & np.uint32(0xFFFF))), as_float(np.uint16(low >> np.uint32(16))),
                as_float(np.uint16(high & np.uint32(0xFFFF))), as_float(np.uint16(high >> np.uint32(16))))
    return unpack_halves


# Per input i and row b, O(in * B * (k + 1)) work; read once per call, written once.
# Outputs (in, B) layouts so that a kernel's inner loop over rows walks contiguous memory:
#   start[i, b]          first of the k + 1 basis positions (clamped into 0 .. D - k - 1)
#   weights[i, b, t]     basis value at start + t times the codebook's column step there
#   offset[i, b]         sum_t basis * column minimum (the codebook's affine offset)
#   basis_sum[i, b]      sum of the real bases (multiplies the edge bias)
#   activation[i, b]     silu(x[b, i]) (multiplies the base weight; other base activations overwrite it after)
@njit(parallel=True, cache=True)
def input_tables(xt, grid, order, column_min, column_step, start, weights, offset, basis_sum, activation):
    """Fill the per-(input, row) tables from inputs ``xt`` (in, B) and knot rows ``grid`` (in, n); SiLU as the
    base activation."""
    width, batch = xt.shape
    knots = grid.shape[1]
    num_bases = knots - order - 1
    for i in prange(width):
        local = np.empty(order + 1)
        left = np.empty(order + 1)
        right = np.empty(order + 1)
        first, last = grid[i, 0], grid[i, knots - 1]
        for b in range(batch):
            x = np.float64(xt[i, b])
            # interval m: grid[m] <= x < grid[m + 1]; -1 below the grid, knots - 1 at or above its end
            m = np.searchsorted(grid[i], x, side="right") - 1
            # de Boor's triangle on knots t_{m-k} .. t_{m+k+1}, extended past the ends at the edge spacing
            local[0] = 1.0
            for j in range(1, order + 1):
                left[j] = x - _knot(grid, i, m + 1 - j, first, last)
                right[j] = _knot(grid, i, m + j, first, last) - x
                saved = 0.0
                for r in range(j):
                    term = local[r] / (right[r + 1] + left[j - r])
                    local[r] = saved + right[r + 1] * term
                    saved = left[j - r] * term
                local[j] = saved
            window = min(max(m - order, 0), num_bases - order - 1)
            start[i, b] = window
            total, shift = 0.0, 0.0
            for t in range(order + 1):
                position = window + t
                source = position - (m - order)
                value = local[source] if 0 <= source <= order else 0.0
                weights[i, b, t] = value * column_step[position]
                shift += value * column_min[position]
                total += value
            offset[i, b] = shift
            basis_sum[i, b] = total
            activation[i, b] = x / (1.0 + np.exp(-x))


@njit(inline="always")
def _knot(grid, i, index, first, last):
    knots = grid.shape[1]
    if index < 0:
        return first + (grid[i, 1] - first) * index
    if index >= knots:
        return last + (last - grid[i, knots - 2]) * (index - knots + 1)
    return grid[i, index]



# Row kernel (B < GROUPED_FROM_ROWS). Loop order: block of outputs (prange; one block per thread,
# starting on a multiple of OUTPUT_ALIGN) -> row b -> input i -> [gather: each edge's packed taps
# at input i's knot window into ``words``, the only indexed load] -> [compute: unpack, apply the
# k + 1 bases, accumulate; no indexed load, so LLVM vectorises it across outputs]. The per-output
# affines stay out of the inner loop: sum_i (min + step * code) * v = min * sum_i v + step * sum_i code * v,
# so it accumulates sum_i spline, sum_i gain code * spline, sum_i bias code * basis sum and
# sum_i base code * act(x), and applies each output's (minimum, step) once at the end.
# Memory traffic per row: each edge's index (1-2 B) and gain, bias and base codes (1 B each at 8
# bits) once, in (in, out) order; per input one word per edge from the window's K-word slice of the
# tap table (K * 4 B: 16 KB at K = 4,096, 256 KB at 65,536, in L1 or L2); ``words`` and the four
# accumulators (count * 4 B each) stay in L1. Each output's sum runs over inputs in the same order
# whatever the blocks, so results do not depend on the thread count.
@njit(parallel=True, cache=True, fastmath={"contract"})  # contract: fused multiply-adds
def row_kernel(block_first, block_count, scratch, taps, indices_t, gains, biases, base_weights, tables,
               output_scale, output_bias, out_t):
    """out_t (out, B) <- the layer's outputs, one row at a time."""
    n_in = indices_t.shape[0]
    batch = tables.start.shape[1]
    for block in prange(block_first.shape[0]):
        first, count = block_first[block], block_count[block]
        words = scratch[block, :count]
        spline_sum, gain_sum = np.empty(count, np.float32), np.empty(count, np.float32)
        bias_sum, base_sum = np.empty(count, np.float32), np.empty(count, np.float32)
        for b in range(batch):
            spline_sum[:] = 0.0
            gain_sum[:] = 0.0
            bias_sum[:] = 0.0
            base_sum[:] = 0.0
            ones_total, activation_total = np.float32(0.0), np.float32(0.0)
            for i in range(n_in):
                w0, w1, w2, w3 = (tables.weights[i, b, 0], tables.weights[i, b, 1], tables.weights[i, b, 2],
                                  tables.weights[i, b, 3])
                shift, ones, activation = tables.offset[i, b], tables.basis_sum[i, b], tables.activation[i, b]
                ones_total += ones
                activation_total += activation
                gather_taps(taps[tables.start[i, b]], indices_t[i, first:first + count], words)
                gain_codes = gains.codes_t[i, first:first + count]
                bias_codes = biases.codes_t[i, first:first + count]
                base_codes = base_weights.codes_t[i, first:first + count]
                for jj in range(count):
                    c0, c1, c2, c3 = tap_values(words, jj)
                    spline = shift + w0 * c0 + w1 * c1 + w2 * c2 + w3 * c3
                    spline_sum[jj] += spline
                    gain_sum[jj] += as_float(gain_codes[jj]) * spline
                    bias_sum[jj] += as_float(bias_codes[jj]) * ones
                    base_sum[jj] += as_float(base_codes[jj]) * activation
            for jj in range(count):
                j = first + jj
                total = (gains.minimum[j] * spline_sum[jj] + gains.step[j] * gain_sum[jj]
                         + biases.minimum[j] * ones_total + biases.step[j] * bias_sum[jj]
                         + base_weights.minimum[j] * activation_total + base_weights.step[j] * base_sum[jj])
                out_t[j, b] = total * output_scale[j] + output_bias[j]


# Rows of each input grouped by knot window (a counting sort, stable): row_order[i, lo:hi] are the
# rows of group g, lo = bounds[i, g], hi = bounds[i, g + 1]; counts[i] groups. O(in * (B + S)).
@njit(cache=True)
def window_groups(start, windows, row_order, bounds, counts):
    """Fill ``row_order`` (in, B), ``bounds`` (in, B + 1) and ``counts`` (in,) from ``start`` (in, B)."""
    width, batch = start.shape
    tally = np.empty(windows + 1, np.int64)
    for i in range(width):
        tally[:] = 0
        for b in range(batch):
            tally[start[i, b] + 1] += 1
        groups = 0
        for s in range(windows):
            if tally[s + 1] > 0:
                bounds[i, groups] = tally[s]
                groups += 1
            tally[s + 1] += tally[s]
        bounds[i, groups] = batch
        counts[i] = groups
        for b in range(batch):
            s = start[i, b]
            row_order[i, tally[s]] = b
            tally[s] += 1


@njit(inline="always")
def accumulate_row(total, r0, r1, r2, r3, gain, bias, base, w0, w1, w2, w3, shift, ones, activation):
    """total += one row's terms of one input for every output of a block: 7 multiply-adds per output."""
    for jj in range(total.shape[0]):
        total[jj] += (w0 * r0[jj] + w1 * r1[jj] + w2 * r2[jj] + w3 * r3[jj] + shift * gain[jj] + ones * bias[jj]
                      + activation * base[jj])


# Grouped kernel (GROUPED_FROM_ROWS <= B < TILE_FROM_ROWS). Loop order: block of outputs (prange)
# -> input i -> [dequantize the block's gains, biases and base weights once] -> then either
#   (few windows) per knot window group: gather the packed taps once, unpack them times the gain
#   into four tap rows, then each row b of the group;
#   (many windows; 8-bit codebooks only) gather each edge's whole codeword once (``wide``: ceil(D/4)
#   words), unpack all D codes times the gain into D rows, then every row b reads its window's four;
# -> row b: 7 multiply-adds per edge (four taps, the offset times the gain, the basis sum times the
#   bias, act(x) times the base weight), vectorised across outputs into row b's accumulators.
# Memory traffic: each edge's codes once per call (not once per row), one word per edge and
# distinct window (or ceil(D/4) words once), the block's (B, count) accumulators and the decoded
# rows (``routes.grouped_block_outputs`` keeps them in L1). A row's terms are the same products
# whichever way its taps were unpacked, so its result depends neither on the batch's other rows nor
# on the thread count.
@njit(parallel=True, cache=True, fastmath={"contract"})
def grouped_kernel(block_first, block_count, scratch, taps, wide, indices_t, gains, biases, base_weights, tables,
                   row_order, bounds, counts, output_scale, output_bias, out_t):
    """out_t (out, B) <- the layer's outputs, rows grouped by knot window per input."""
    n_in = indices_t.shape[0]
    batch = tables.start.shape[1]
    words_per_code = wide.shape[1]
    num_bases = 4 * words_per_code
    for block in prange(block_first.shape[0]):
        first, count = block_first[block], block_count[block]
        words = scratch[block, :count]
        wide_words = np.empty((max(words_per_code, 1), count), np.int32)
        # zeros past the decoded rows: a window near the end reads rows s + 1 .. s + 3 beyond the codeword for
        # orders below 3, where its weights are zero; uninitialised memory there (NaN * 0) made whole rows NaN
        decoded = np.zeros((num_bases + MAX_TAPS, count), np.float32)
        totals = np.zeros((batch, count), np.float32)
        gain, bias, base = np.empty(count, np.float32), np.empty(count, np.float32), np.empty(count, np.float32)
        gain_lo, gain_step = gains.minimum[first:first + count], gains.step[first:first + count]
        bias_lo, bias_step = biases.minimum[first:first + count], biases.step[first:first + count]
        base_lo, base_step = base_weights.minimum[first:first + count], base_weights.step[first:first + count]
        for i in range(n_in):
            gain_codes = gains.codes_t[i, first:first + count]
            bias_codes = biases.codes_t[i, first:first + count]
            base_codes = base_weights.codes_t[i, first:first + count]
            for jj in range(count):
                gain[jj] = gain_lo[jj] + as_float(gain_codes[jj]) * gain_step[jj]
                bias[jj] = bias_lo[jj] + as_float(bias_codes[jj]) * bias_step[jj]
                base[jj] = base_lo[jj] + as_float(base_codes[jj]) * base_step[jj]
            index = indices_t[i, first:first + count]
            if words_per_code > 0 and counts[i] * MAX_TAPS > num_bases + MAX_TAPS:
                for jj in range(count):
                    row = wide[index[jj]]
                    for q in range(words_per_code):
                        wide_words[q, jj] = row[q]
                for d in range(num_bases):
                    source, target, shift_bits = wide_words[d // 4], decoded[d], 8 * (d % 4)
                    for jj in range(count):
                        target[jj] = gain[jj] * np.float32((source[jj] >> shift_bits) & 255)
                for b in range(batch):
                    s = tables.start[i, b]
                    accumulate_row(totals[b], decoded[s], decoded[s + 1], decoded[s + 2], decoded[s + 3], gain,
                                   bias, base, tables.weights[i, b, 0], tables.weights[i, b, 1],
                                   tables.weights[i, b, 2], tables.weights[i, b, 3], tables.offset[i, b],
                                   tables.basis_sum[i, b], tables.activation[i, b])
                continue
            for g in range(counts[i]):
                lo, hi = bounds[i, g], bounds[i, g + 1]
                gather_taps(taps[tables.start[i, row_order[i, lo]]], index, words)
                u0, u1, u2, u3 = decoded[0], decoded[1], decoded[2], decoded[3]
                for jj in range(count):
                    c0, c1, c2, c3 = tap_values(words, jj)
                    u0[jj] = gain[jj] * c0
                    u1[jj] = gain[jj] * c1
                    u2[jj] = gain[jj] * c2
                    u3[jj] = gain[jj] * c3
                for r in range(lo, hi):
                    b = row_order[i, r]
                    accumulate_row(totals[b], u0, u1, u2, u3, gain, bias, base, tables.weights[i, b, 0],
                                   tables.weights[i, b, 1], tables.weights[i, b, 2], tables.weights[i, b, 3],
                                   tables.offset[i, b], tables.basis_sum[i, b], tables.activation[i, b])
        for jj in range(count):
            j = first + jj
            for b in range(batch):
                out_t[j, b] = totals[b, jj] * output_scale[j] + output_bias[j]


# Tile decoder for the tile route. Loop order: input i (prange) -> output j of the tile ->
# D coefficients. Each edge's codeword is decoded once per call into a float32 tile row,
# bias + gain * (column_min + code * column_step), with its base weight beside it: T * in *
# (D + 1) floats, sized to stay in cache, consumed by one matrix product with every row's
# bases, so each decoded codeword serves the whole batch. Streams the same 4-5 bytes per edge
# as the small-batch kernel and reads D codebook bytes per edge. Each element is computed once.
@njit(parallel=True, cache=True)
def decode_tile(first, indices_t, gains, biases, base_weights, codebook, column_min, column_step, tile):
    """tile (T, in, D + 1) <- decoded coefficients (D) and base weight (last column) of outputs first .. first + T."""
    rows, n_in, width = tile.shape
    num_bases = width - 1
    for i in prange(n_in):
        for r in range(rows):
            j = first + r
            row = indices_t[i, j]
            gain = gains.minimum[j] + as_float(gains.codes_t[i, j]) * gains.step[j]
            bias = biases.minimum[j] + as_float(biases.codes_t[i, j]) * biases.step[j]
            for d in range(num_bases):
                tile[r, i, d] = bias + gain * (column_min[d] + as_float(codebook[row, d]) * column_step[d])
            tile[r, i, num_bases] = base_weights.minimum[j] + as_float(base_weights.codes_t[i, j]) * base_weights.step[j]


# Per row b and input i: the D real bases at their positions and act(x) after them, (B, in, D + 1):
# the left operand of the tile products. O(B * in * (D + 1)) writes.
@njit(parallel=True, cache=True)
def placed_features(start, weights, activation, num_bases, features):
    """features (B, in, D + 1) <- bases placed from the tables, and the base activation in the last column."""
    width, batch = start.shape
    taps = weights.shape[2]
    for b in prange(batch):
        for i in range(width):
            for d in range(num_bases):
                features[b, i, d] = 0.0
            for t in range(taps):
                features[b, i, start[i, b] + t] = weights[i, b, t]
            features[b, i, num_bases] = activation[i, b]




def stored_codes(tensor: QuantizedTensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, minimum, step) of a 2-D tensor at its stored width, the affine along its grouping axis."""
    rows, cols = tensor.shape
    axis = cols if tensor.grouping == "columns" else rows
    if tensor.bits == 32:
        codes = np.ascontiguousarray(tensor.payload.reshape(tensor.shape), dtype=np.float32)
    elif tensor.bits == 16:
        codes = np.ascontiguousarray(tensor.payload.reshape(tensor.shape)).view(np.uint16)
    else:
        return tensor.codes(), tensor.minimum.astype(np.float32), tensor.step.astype(np.float32)
    return codes, np.zeros(axis, np.float32), np.ones(axis, np.float32)


def tap_table(codes: np.ndarray, order: int) -> np.ndarray:
    """Interval-major taps of a (K, D) codebook: (S, K) packed words, or (S, K, 4) float32 (see module docstring).

    Empty when k + 1 exceeds ``MAX_TAPS`` (those layers always take the tile route).
    """
    size, width = codes.shape
    taps = order + 1
    if taps > MAX_TAPS:
        return np.zeros((0, size), np.uint32)
    windows = width - order
    table = np.zeros((windows, size, MAX_TAPS), codes.dtype)
    for s in range(windows):
        table[s, :, :taps] = codes[:, s:s + taps]
    if codes.dtype == np.uint8:
        return table.view(np.uint32)[..., 0]
    if codes.dtype == np.uint16:
        return table.view(np.uint64)[..., 0]
    return table


def wide_table(codes: np.ndarray) -> np.ndarray:
    """(K, ceil(D / 4)) uint32: each 8-bit codeword's D codes packed four to a word (zero padded); (K, 0) otherwise."""
    size, width = codes.shape
    if codes.dtype != np.uint8:
        return np.zeros((size, 0), np.uint32)
    padded = np.zeros((size, -(-width // 4) * 4), np.uint8)
    padded[:, :width] = codes
    return padded.view(np.uint32)


@dataclass(frozen=True)
class FusedCodebook:
    """A codebook at its stored width: (K, D) codes with one (minimum, step) per column, and its tap table."""

    codes: np.ndarray         # (K, D) uint8, uint16 (float16 bits) or float32
    column_min: np.ndarray    # (D,) float32
    column_step: np.ndarray   # (D,) float32
    order: int                # the spline order the tap table was laid out for
    taps: np.ndarray          # (S, K) packed words or (S, K, 4) float32; see ``tap_table``
    wide: np.ndarray          # (K, ceil(D / 4)) uint32 whole 8-bit codewords; see ``wide_table``

    @classmethod
    def from_quantized(cls, codebook: QuantizedTensor, order: int) -> "FusedCodebook":
        """Keep column-grouped or float codebooks as stored; dequantize per-codeword (v1) ones to float32."""
        if codebook.bits < 16 and codebook.grouping != "columns":
            width = codebook.shape[1]
            codes, minimum, step = codebook.dequantize(), np.zeros(width, np.float32), np.ones(width, np.float32)
        else:
            codes, minimum, step = stored_codes(codebook)
        return cls(codes, minimum, step, order, tap_table(codes, order), wide_table(codes))

    @property
    def nbytes(self) -> int:
        """Bytes held: the codes, the tap and whole-codeword tables and the column affine."""
        return int(self.codes.nbytes + self.taps.nbytes + self.wide.nbytes + self.column_min.nbytes
                   + self.column_step.nbytes)


@dataclass(frozen=True)
class FusedLayer:
    """One layer's stored codes and knots, laid out for the kernels."""

    grid: np.ndarray          # (in, G + 2k + 1) float64 knots (the search and bases run in float64)
    order: int
    indices_t: np.ndarray     # (in, out) uint8 for K <= 256, else uint16
    gains: EdgeCodes
    biases: EdgeCodes
    base_weights: EdgeCodes
    output_scale: np.ndarray  # (out,) float32
    output_bias: np.ndarray   # (out,) float32
    codebook_id: int
    base_activation: str  # a key of model.kan.BASE_ACTIVATIONS (no default: a forgotten one must not be SiLU)

    @classmethod
    def from_compressed(cls, layer: CompressedLayer, codebook_size: int, base_activation: str) -> "FusedLayer":
        """Narrow and transpose the indices; keep every other code at its stored width."""
        return cls(layer.grid.astype(np.float64), layer.spline_order,
                   np.ascontiguousarray(layer.indices.T, dtype=index_dtype(codebook_size)),
                   EdgeCodes.from_quantized(layer.gains), EdgeCodes.from_quantized(layer.biases),
                   EdgeCodes.from_quantized(layer.base_weights), layer.output_scale.astype(np.float32),
                   layer.output_bias.astype(np.float32), layer.codebook_id, base_activation)

    @property
    def in_features(self) -> int:
        """Number of inputs."""
        return int(self.indices_t.shape[0])

    @property
    def out_features(self) -> int:
        """Number of outputs."""
        return int(self.indices_t.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes of the per-edge codes and per-layer vectors held for the kernel."""
        parts = (self.grid, self.indices_t, self.output_scale, self.output_bias)
        return int(sum(p.nbytes for p in parts) + self.gains.nbytes + self.biases.nbytes + self.base_weights.nbytes)

    def forward(self, xt: np.ndarray, codebook: FusedCodebook) -> np.ndarray:
        """Map inputs (in, B) float32 to outputs (out, B) float32 by the route ``routes.fused_route`` picks."""
        # a codebook shared with a layer of another spline order has no tap table for this one
        route = fused_route(xt.shape[1], self.order) if codebook.order == self.order else "tile"
        if route == "tile":
            return self._tile_forward(xt, codebook)
        width, batch = xt.shape
        tables = RowTables.empty(width, batch, MAX_TAPS)
        input_tables(xt, self.grid, self.order, codebook.column_min, codebook.column_step, *tables)
        self.activation_table(xt, tables.activation)
        if route == "row":  # one block per thread; the grouped kernel's blocks keep their rows in L1
            blocks = output_blocks(self.out_features, numba.get_num_threads())
        else:
            blocks = output_blocks(self.out_features, -(-self.out_features // grouped_block_outputs(batch)))
        first, count = (np.array(column, np.int64) for column in zip(*blocks))
        scratch = np.empty((len(blocks), int(count.max()), *codebook.taps.shape[2:]), codebook.taps.dtype)
        out_t = np.empty((self.out_features, batch), np.float32)
        codes = (self.indices_t, self.gains, self.biases, self.base_weights, tables)
        if route == "row":
            row_kernel(first, count, scratch, codebook.taps, *codes, self.output_scale, self.output_bias, out_t)
            return out_t
        row_order, bounds = np.empty((width, batch), np.int64), np.empty((width, batch + 1), np.int64)
        counts = np.empty(width, np.int64)
        window_groups(tables.start, codebook.taps.shape[0], row_order, bounds, counts)
        grouped_kernel(first, count, scratch, codebook.taps, codebook.wide, *codes, row_order, bounds, counts,
                       self.output_scale, self.output_bias, out_t)
        return out_t

    def activation_table(self, xt: np.ndarray, activation: np.ndarray) -> None:
        """activation (in, B) <- the base activation of inputs ``xt`` (in, B); ``input_tables`` already wrote SiLU,
        so SiLU layers skip this pass. Torch computes it in float32, as the torch paths and ``decompress`` do."""
        if self.base_activation != "silu":
            activation[...] = BASE_ACTIVATIONS[self.base_activation](torch.from_numpy(xt)).numpy()

    def _tile_forward(self, xt: np.ndarray, codebook: FusedCodebook) -> np.ndarray:
        """The tile route: decode cache-sized tiles of gain * codeword and multiply them with the placed bases."""
        width, batch = xt.shape
        n_out = self.out_features
        num_bases = codebook.codes.shape[1]
        unit = np.ones(num_bases, np.float32)
        tables = RowTables.empty(width, batch, self.order + 1)
        input_tables(xt, self.grid, self.order, np.zeros_like(unit), unit, *tables)
        self.activation_table(xt, tables.activation)
        features = np.empty((batch, width, num_bases + 1), np.float32)
        placed_features(tables.start, tables.weights, tables.activation, num_bases, features)
        left = torch.from_numpy(features.reshape(batch, -1))
        rows = max(1, min(n_out, TILE_BYTES // (width * (num_bases + 1) * 4)))
        tile = np.empty((rows, width, num_bases + 1), np.float32)
        out_t = np.empty((n_out, batch), np.float32)
        for first in range(0, n_out, rows):
            count = min(rows, n_out - first)
            part = tile[:count]
            decode_tile(first, self.indices_t, self.gains, self.biases, self.base_weights, codebook.codes,
                        codebook.column_min, codebook.column_step, part)
            torch.mm(torch.from_numpy(part.reshape(count, -1)), left.t(), out=torch.from_numpy(out_t[first:first + count]))
        out_t *= self.output_scale[:, None]
        out_t += self.output_bias[:, None]
        return out_t


def index_dtype(codebook_size: int) -> type:
    """The kernels' index type: unsigned, ``routes.index_bytes`` wide."""
    return np.uint8 if index_bytes(codebook_size) == 1 else np.uint16


class FusedKAN:
    """A compressed KAN run by the fused kernels: ``fused(x)`` maps (B, in) float32 to (B, out)."""

    def __init__(self, codebooks: list[FusedCodebook], layers: list[FusedLayer]):
        self.codebooks = codebooks
        self.layers = layers
        self.in_features = layers[0].in_features
        self.out_features = layers[-1].out_features

    @staticmethod
    def supports(compressed) -> bool:
        """True for codebook compressions with per-edge index, gain and bias on every edge (SHARe-KAN)."""
        return all(layer.indices is not None and layer.gains is not None and layer.biases is not None
                   and getattr(layer, "kept", None) is None for layer in compressed.layers)

    @classmethod
    def from_compressed(cls, compressed) -> "FusedKAN":
        """Lay out a ``CompressedKAN``'s stored codes for the kernels (no dequantized edge tensor)."""
        orders = {layer.codebook_id: layer.spline_order for layer in compressed.layers}
        codebooks = [FusedCodebook.from_quantized(c, orders.get(n, 3)) for n, c in enumerate(compressed.codebooks)]
        layers = [FusedLayer.from_compressed(layer, compressed.codebooks[layer.codebook_id].shape[0],
                                             compressed.base_activation)
                  for layer in compressed.layers]
        return cls(codebooks, layers)

    @property
    def nbytes(self) -> int:
        """Bytes the kernels hold: codebooks (codes and tap tables) plus every layer's codes."""
        return sum(c.nbytes for c in self.codebooks) + sum(layer.nbytes for layer in self.layers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Map (B, in_features) to (B, out_features), float32."""
        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
        with LAUNCH_LOCK:
            for layer in self.layers:
                xt = layer.forward(xt, self.codebooks[layer.codebook_id])
        return np.ascontiguousarray(xt.T)


# Every compiled function above: numba compiles each once per combination of argument types (code widths,
# index width) and caches it on disk (``cache=True``), so only the first call after install pays for it.
KERNELS = (input_tables, row_kernel, window_groups, grouped_kernel, decode_tile, placed_features)
COMPILE_NOTE = "compiling the fused kernels, first run only (10 to 30 s; cached for later runs)"


def kernels_cached() -> bool:
    """True when every kernel is compiled in this process or has an on-disk cache from an earlier run.

    A cache written for other code widths still leaves those widths to compile: this is a hint for messages.
    """
    for kernel in KERNELS:
        if kernel.signatures:
            continue
        try:
            index = kernel._cache._cache_file._index_path  # numba's cache index; private, so fall back to False
        except AttributeError:
            return False
        if not os.path.exists(index):
            return False
    return True
