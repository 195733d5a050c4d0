"""Fused compressed-domain KAN layer kernels (numba): run straight from the stored codes.

Why numba: it JIT-compiles these loops from pinned wheels (numba 0.68.1, llvmlite 0.50.0), so a
user's machine needs no C++ compiler, as a torch C++ extension would; ``torch.compile`` on the
same gather formulation measures slower than the dense head (bench/runtime.py). The pure-torch
``CompressedDomainKAN`` stays the reference the tests hold these kernels to, the fallback when
numba is missing, and what ``torch.export`` traces for ``.pte`` programs.

What stays at its stored width (E = out * in edges, D = G + k coefficients, K codewords):
    indices                 (in, out)  uint8 for K <= 256, else uint16 (transposed at load, same bytes)
    gains, biases, base     (in, out)  uint8 codes with a per-output (minimum, step), or float16 bits
                                       (uint16, decoded in the kernel), or float32
    codebook                (K, D)     uint8 codes with a per-column (minimum, step), float16 bits
                                       or float32; also held transposed (D, K) for the responses
4-bit codes are unpacked once at load to one uint8 per code (twice their stored bytes in memory;
``nbytes`` counts what is held, both codebook layouts included). Old (format version 1) codebooks
with an affine pair per codeword are dequantized to float32 at load, since per-codeword pairs
would cost 8 bytes per gather.

Per input and row the knot interval and its k + 1 non-zero B-spline bases are computed once
(``input_tables``), with the codebook's column step folded into them. Batches below
``BATCHED_FROM_ROWS`` rows run ``small_batch_kernel`` (k + 1 codes per edge, or one response
per codeword and input); larger batches decode each edge's codeword once into a cache-sized
tile (``decode_tile``) that one matrix product applies to every row. No dequantized (out, in) or
(out, in, D) tensor is ever built. Entry points: ``FusedKAN.from_compressed(compressed)`` and
``fused_forward(fused, x)``; ``CompressedDomainKAN`` calls them in eager CPU runs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numba
import numpy as np
import torch
from numba import njit, prange, types
from numba.extending import overload

from ..compress.compressed import CompressedLayer
from ..compress.quantize import QuantizedTensor

# numba's default (workqueue) threading layer may not be entered from two threads at once;
# Streamlit runs each session in its own thread, so kernel launches are serialised.
LAUNCH_LOCK = threading.Lock()
# 2**(e - 25) for float16 exponent e: a half's value is (1024 * [e > 0] + mantissa) * 2**(max(e, 1) - 25).
HALF_SCALE = np.array([2.0 ** (max(e, 1) - 25) for e in range(32)], dtype=np.float32)


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


# Per input i and row b, O(in * B * (k + 1)) work; read once per call, written once.
# Outputs (in, B) layouts so that a kernel's inner loop over rows walks contiguous memory:
#   start[i, b]          first of the k + 1 basis positions (clamped into 0 .. D - k - 1)
#   weights[i, b, t]     basis value at start + t times the codebook's column step there
#   offset[i, b]         sum_t basis * column minimum (the codebook's affine offset)
#   basis_sum[i, b]      sum of the real bases (multiplies the edge bias)
#   silu[i, b]           silu(x[b, i]) (multiplies the base weight)
@njit(parallel=True, cache=True)
def input_tables(xt, grid, order, column_min, column_step, start, weights, offset, basis_sum, silu):
    """Fill the per-(input, row) tables from inputs ``xt`` (in, B) and knot rows ``grid`` (in, n)."""
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
            silu[i, b] = x / (1.0 + np.exp(-x))


@njit(inline="always")
def _knot(grid, i, index, first, last):
    knots = grid.shape[1]
    if index < 0:
        return first + (grid[i, 1] - first) * index
    if index >= knots:
        return last + (last - grid[i, knots - 2]) * (index - knots + 1)
    return grid[i, index]


# Small-batch kernel. Loop order: block of outputs (prange; one block per thread) -> row b ->
# input i -> [the edge terms bias * basis_sum + base * silu for every output of the block, a
# vectorised pass over contiguous codes] -> either (response) decode input i's spline value
# under every codeword once, R[k] = offset + sum_t weight_t * code[k, start + t], a vectorised
# pass over the transposed codebook, then gain * R[index] per edge; or (gather) per edge, k + 1
# codes of its codeword row. The caller picks response when K * (k + 1) is small against the
# outputs that reuse R. Memory traffic per call: the index (1-2 B) and gain, bias and base
# codes (1 B each at 8 bits) of every edge once, in (in, out) order; the codebook (K * D bytes at
# 8 bits: 852 kB at K = 65,536, within a 1 MiB L2) stays resident; the block's accumulators
# and R (4 K bytes) stay in L1/L2. Every output's sum runs over inputs in the same order whatever
# the blocks, so results do not depend on the thread count.
@njit(parallel=True, cache=True, fastmath={"contract"})  # contract: fused multiply-adds
def small_batch_kernel(blocks, use_response, indices_t, gain_codes_t, gain_min, gain_step, bias_codes_t, bias_min,
                       bias_step, base_codes_t, base_min, base_step, codebook, codebook_t, start, weights,
                       offset, basis_sum, silu, output_scale, output_bias, out_t):
    """out_t (out, B) <- the layer's outputs; codes are (in, out), codebook (K, D) and its transpose (D, K)."""
    n_in, n_out = indices_t.shape
    batch = start.shape[1]
    taps = weights.shape[2]
    size = codebook.shape[0]
    # Loops below index views from 0 so numba can drop its negative-index checks and vectorise.
    for block in prange(blocks):
        first = block * n_out // blocks
        count = (block + 1) * n_out // blocks - first
        response = np.empty(size if use_response else 1, dtype=np.float32)
        gain_lo, gain_step_ = gain_min[first:first + count], gain_step[first:first + count]
        bias_lo, bias_step_ = bias_min[first:first + count], bias_step[first:first + count]
        base_lo, base_step_ = base_min[first:first + count], base_step[first:first + count]
        for b in range(batch):
            total = out_t[first:first + count, b]
            total[:] = 0.0
            for i in range(n_in):
                row_index = indices_t[i, first:first + count]
                gain_codes = gain_codes_t[i, first:first + count]
                bias_codes = bias_codes_t[i, first:first + count]
                base_codes = base_codes_t[i, first:first + count]
                ones, activation = basis_sum[i, b], silu[i, b]
                position = start[i, b]
                shift = offset[i, b]
                if use_response:
                    response[:] = shift
                    for t in range(taps):
                        weight = weights[i, b, t]
                        column = codebook_t[position + t]
                        for k in range(size):
                            response[k] += weight * as_float(column[k])
                    for jj in range(count):
                        gain = gain_lo[jj] + as_float(gain_codes[jj]) * gain_step_[jj]
                        bias = bias_lo[jj] + as_float(bias_codes[jj]) * bias_step_[jj]
                        base = base_lo[jj] + as_float(base_codes[jj]) * base_step_[jj]
                        total[jj] += gain * response[row_index[jj]] + bias * ones + base * activation
                else:
                    window = codebook[:, position:position + taps]
                    tap = weights[i, b]
                    for jj in range(count):
                        codes = window[row_index[jj]]
                        spline = shift
                        for t in range(taps):
                            spline += tap[t] * as_float(codes[t])
                        gain = gain_lo[jj] + as_float(gain_codes[jj]) * gain_step_[jj]
                        bias = bias_lo[jj] + as_float(bias_codes[jj]) * bias_step_[jj]
                        base = base_lo[jj] + as_float(base_codes[jj]) * base_step_[jj]
                        total[jj] += gain * spline + bias * ones + base * activation
            for jj in range(count):
                total[jj] = total[jj] * output_scale[first + jj] + output_bias[first + jj]


# Tile decoder for the batched route. Loop order: input i (prange) -> output j of the tile ->
# D coefficients. Each edge's codeword is decoded once per call into a float32 tile row,
# bias + gain * (column_min + code * column_step), with its base weight beside it: T * in *
# (D + 1) floats, sized to stay in cache, consumed by one matrix product with every row's
# bases, so each decoded codeword serves the whole batch. Streams the same 4-5 bytes per edge
# as the small-batch kernel and reads D codebook bytes per edge. Each element is computed once.
@njit(parallel=True, cache=True)
def decode_tile(first, indices_t, gain_codes_t, gain_min, gain_step, bias_codes_t, bias_min, bias_step,
                base_codes_t, base_min, base_step, codebook, column_min, column_step, tile):
    """tile (T, in, D + 1) <- decoded coefficients (D) and base weight (last column) of outputs first .. first + T."""
    rows, n_in, width = tile.shape
    num_bases = width - 1
    for i in prange(n_in):
        for r in range(rows):
            j = first + r
            row = indices_t[i, j]
            gain = gain_min[j] + as_float(gain_codes_t[i, j]) * gain_step[j]
            bias = bias_min[j] + as_float(bias_codes_t[i, j]) * bias_step[j]
            for d in range(num_bases):
                tile[r, i, d] = bias + gain * (column_min[d] + as_float(codebook[row, d]) * column_step[d])
            tile[r, i, num_bases] = base_min[j] + as_float(base_codes_t[i, j]) * base_step[j]


# Per row b and input i: the D real bases at their positions and silu(x) after them, (B, in, D + 1):
# the left operand of the tile products. O(B * in * (D + 1)) writes.
@njit(parallel=True, cache=True)
def placed_features(start, weights, silu, num_bases, features):
    """features (B, in, D + 1) <- bases placed from the tables, and silu in the last column."""
    width, batch = start.shape
    taps = weights.shape[2]
    for b in prange(batch):
        for i in range(width):
            for d in range(num_bases):
                features[b, i, d] = 0.0
            for t in range(taps):
                features[b, i, start[i, b] + t] = weights[i, b, t]
            features[b, i, num_bases] = silu[i, b]


# Rows from which the tile route (decode each codeword once, then one matrix product for the
# whole batch) beats the small-batch kernel; measured with bench/runtime.py on this host.
BATCHED_FROM_ROWS = 4
TILE_BYTES = 1 << 21  # one decoded tile, 2 MiB: in L3 beside the streamed codes, reused by every row
# The small-batch kernel decodes every codeword's response per input (K * (k + 1) vectorised
# multiply-adds) when that is cheaper than k + 1 scalar gathers for each of the outputs that use
# it: K * (k + 1) <= RESPONSE_RATIO * out. Set from bench/runtime.py runs on this host.
RESPONSE_RATIO = 8


@dataclass(frozen=True)
class EdgeCodes:
    """One per-edge component at its stored width: codes transposed to (in, out), and a per-output affine."""

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


@dataclass(frozen=True)
class FusedCodebook:
    """A codebook at its stored width, (K, D) and transposed (D, K), with one (minimum, step) per column."""

    codes: np.ndarray         # (K, D) uint8, uint16 (float16 bits) or float32
    codes_t: np.ndarray       # (D, K) the same codes, for the vectorised per-input responses
    column_min: np.ndarray    # (D,) float32
    column_step: np.ndarray   # (D,) float32

    @classmethod
    def from_quantized(cls, codebook: QuantizedTensor) -> "FusedCodebook":
        """Keep column-grouped or float codebooks as stored; dequantize per-codeword (v1) ones to float32."""
        if codebook.bits < 16 and codebook.grouping != "columns":
            width = codebook.shape[1]
            codes, minimum, step = codebook.dequantize(), np.zeros(width, np.float32), np.ones(width, np.float32)
        else:
            codes, minimum, step = stored_codes(codebook)
        return cls(codes, np.ascontiguousarray(codes.T), minimum, step)

    @property
    def nbytes(self) -> int:
        """Bytes held: both layouts of the codes and the column affine."""
        return int(self.codes.nbytes + self.codes_t.nbytes + self.column_min.nbytes + self.column_step.nbytes)


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

    @classmethod
    def from_compressed(cls, layer: CompressedLayer, codebook_size: int) -> "FusedLayer":
        """Narrow and transpose the indices; keep every other code at its stored width."""
        index_type = np.uint8 if codebook_size <= 256 else np.uint16
        return cls(layer.grid.astype(np.float64), layer.spline_order,
                   np.ascontiguousarray(layer.indices.T, dtype=index_type), EdgeCodes.from_quantized(layer.gains),
                   EdgeCodes.from_quantized(layer.biases), EdgeCodes.from_quantized(layer.base_weights),
                   layer.output_scale.astype(np.float32), layer.output_bias.astype(np.float32),
                   layer.codebook_id)

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
        """Map inputs (in, B) float32 to outputs (out, B) float32."""
        width, batch = xt.shape
        n_out = self.out_features
        start = np.empty((width, batch), np.int64)
        weights = np.empty((width, batch, self.order + 1), np.float32)
        offset, basis_sum, silu = (np.empty((width, batch), np.float32) for _ in range(3))
        g, c, w = self.gains, self.biases, self.base_weights
        out_t = np.empty((n_out, batch), np.float32)
        if batch < BATCHED_FROM_ROWS:
            input_tables(xt, self.grid, self.order, codebook.column_min, codebook.column_step,
                         start, weights, offset, basis_sum, silu)
            use_response = codebook.codes.shape[0] * (self.order + 1) <= RESPONSE_RATIO * n_out
            blocks = min(numba.get_num_threads(), n_out)  # any count gives the same sums
            small_batch_kernel(blocks, use_response, self.indices_t, g.codes_t, g.minimum, g.step, c.codes_t, c.minimum,
                               c.step, w.codes_t, w.minimum, w.step, codebook.codes, codebook.codes_t, start,
                               weights, offset, basis_sum, silu, self.output_scale, self.output_bias, out_t)
            return out_t
        num_bases = codebook.codes.shape[1]
        unit = np.ones(num_bases, np.float32)
        input_tables(xt, self.grid, self.order, np.zeros_like(unit), unit, start, weights, offset, basis_sum, silu)
        features = np.empty((batch, width, num_bases + 1), np.float32)
        placed_features(start, weights, silu, num_bases, features)
        left = torch.from_numpy(features.reshape(batch, -1))
        rows = max(1, min(n_out, TILE_BYTES // (width * (num_bases + 1) * 4)))
        tile = np.empty((rows, width, num_bases + 1), np.float32)
        for first in range(0, n_out, rows):
            count = min(rows, n_out - first)
            part = tile[:count]
            decode_tile(first, self.indices_t, g.codes_t, g.minimum, g.step, c.codes_t, c.minimum, c.step,
                        w.codes_t, w.minimum, w.step, codebook.codes, codebook.column_min, codebook.column_step, part)
            torch.mm(torch.from_numpy(part.reshape(count, -1)), left.t(), out=torch.from_numpy(out_t[first:first + count]))
        out_t *= self.output_scale[:, None]
        out_t += self.output_bias[:, None]
        return out_t


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
        codebooks = [FusedCodebook.from_quantized(c) for c in compressed.codebooks]
        layers = [FusedLayer.from_compressed(layer, compressed.codebooks[layer.codebook_id].shape[0])
                  for layer in compressed.layers]
        return cls(codebooks, layers)

    @property
    def nbytes(self) -> int:
        """Bytes the kernels hold: codebooks plus every layer's codes."""
        return sum(c.nbytes for c in self.codebooks) + sum(layer.nbytes for layer in self.layers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Map (B, in_features) to (B, out_features), float32."""
        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
        with LAUNCH_LOCK:
            for layer in self.layers:
                xt = layer.forward(xt, self.codebooks[layer.codebook_id])
        return np.ascontiguousarray(xt.T)


def fused_forward(fused: FusedKAN, x: np.ndarray) -> np.ndarray:
    """Run ``fused`` on (B, in) inputs; the function pages and benchmarks call."""
    return fused(x)
