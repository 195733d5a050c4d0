"""The module exported to an ExecuTorch program: any compressed KAN, its tensors kept at their stored width.

``KANProgram(compressed)`` maps (B, in) to (B, out) like ``decompress(compressed)``, for every method.
Each call decodes, per layer, the spline weights (out, in * D) and base weights (out, in) from the
stored codes (``dequantize``: packed streams, no float copy of any code), then runs one matrix
product of [bases, act(x)] (B, in * (D + 1)) with them, act being the model's base activation
(``model.kan.BASE_ACTIVATIONS``). The file's bit-packed indices and kept-edge masks stay packed too.
A program pays about 180 bytes per operator, and ExecuTorch's portable kernels are slowest on many
small broadcasting operators, so the graph is kept short: evenly spaced knots (every grid the project
makes) get their bases from one polynomial (``UniformBases``), other knots (imported pykan grids) from
de Boor's recursion (``KnotBases``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..compression.compressed import CompressedKAN, CompressedLayer
from ..compression.packing import index_bits, pack_bits
from ..model.bspline import bspline_basis
from ..model.kan import BASE_ACTIVATIONS
from .dequantize import DequantizedTensor, PackedCodes


UNIFORM_TOLERANCE = 1e-6  # largest knot offset from an evenly spaced row, in knot spacings, read as uniform


def is_uniform(grid: np.ndarray) -> bool:
    """True when every knot row of ``grid`` (in, n) is evenly spaced and increasing, within ``UNIFORM_TOLERANCE``."""
    grid = grid.astype(np.float64)
    steps = (grid[:, -1] - grid[:, 0]) / (grid.shape[1] - 1)
    offsets = np.abs(grid - (grid[:, :1] + np.arange(grid.shape[1]) * steps[:, None]))
    return bool((steps > 0).all() and (offsets <= UNIFORM_TOLERANCE * steps[:, None]).all())


def local_polynomials(order: int) -> torch.Tensor:
    """(order + 1 powers, order + 1 bases): at fraction f of an evenly spaced knot interval m, the bases
    B_{m-k} .. B_m are [1, f, ..., f^k] @ this matrix (the same polynomials in every interval)."""
    knots = torch.arange(2 * order + 2, dtype=torch.float64).unsqueeze(0)  # interval m = k is [k, k + 1)
    fractions = (torch.arange(order + 1, dtype=torch.float64) + 0.5) / (order + 1)
    values = bspline_basis((order + fractions).unsqueeze(-1), knots, order)[:, 0, :]  # (k + 1 points, k + 1 bases)
    powers = fractions.unsqueeze(-1) ** torch.arange(order + 1, dtype=torch.float64)
    return torch.linalg.solve(powers, values).to(torch.float32)


class UniformBases(nn.Module):
    """All D = n - k - 1 bases on evenly spaced knots (each input its own range): (B, in) -> (B, in, D).

    The k + 1 non-zero bases at x are one polynomial of x's place in its knot interval, scattered to
    their positions: a few operators on (B, in, k + 1) values, where de Boor's recursion (``KnotBases``)
    takes about forty on (B, in, n). The bases assume exactly even knots; the file's float32 knots are
    within ``UNIFORM_TOLERANCE`` spacings of them, so the bases differ from bspline_basis's by about 1e-6.
    """

    def __init__(self, grid: np.ndarray, order: int):
        super().__init__()
        grid = grid.astype(np.float64)
        self.order, self.num_knots = order, grid.shape[1]
        self.num_bases = self.num_knots - order - 1
        steps = (grid[:, -1] - grid[:, 0]) / (self.num_knots - 1)
        # Knot positions u = (x - t_0) / h - c as one multiply-add per input. Centring on knot c halves
        # |u|, and with it float32's rounding of u (the error of the fraction inside the interval).
        self.centre = (self.num_knots - 1) // 2
        self.register_buffer("scale", torch.from_numpy(1 / steps).to(torch.float32))
        self.register_buffer("shift", torch.from_numpy(-grid[:, 0] / steps - self.centre).to(torch.float32))
        self.register_buffer("powers", torch.arange(order + 1, dtype=torch.float32))
        self.register_buffer("polynomials", local_polynomials(order))
        self.register_buffer("slots", torch.arange(1, order + 2) + self.centre)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the bases of every input; zero outside [t_0, t_{n-1}), as in bspline_basis."""
        # Below the grid u clamps to -1 - c and at or above its end to n - 1 - c: every local basis then
        # lands in the padding that is sliced off.
        position = torch.clamp(x * self.scale + self.shift, -1.0 - self.centre, self.num_knots - 1.0 - self.centre)
        interval = torch.floor(position)
        values = (position - interval).unsqueeze(-1) ** self.powers @ self.polynomials  # (B, in, k + 1)
        # B_{m-k+j} sits at slot m + 1 + j of a row padded by k + 1 slots on each side (m = interval + c)
        slots = interval.to(torch.int64).unsqueeze(-1) + self.slots
        padded = values.new_zeros(x.shape[0], x.shape[1], self.num_bases + 2 * self.order + 2)
        return padded.scatter(2, slots, values)[..., self.order + 1:self.order + 1 + self.num_bases]


class KnotBases(nn.Module):
    """All D = n - k - 1 B-spline bases on a layer's knots (in, n), Cox-de Boor: (B, in) -> (B, in, D).

    The same recursion as ``model.bspline.bspline_basis``, with fewer operators: the right-hand weight
    (t_{i+p+1} - x) / (t_{i+p+1} - t_{i+1}) is 1 - w_{i+1}, where w_i = (x - t_i) / (t_{i+p} - t_i), so
    each order is B_i = v_i + (B - v)_{i+1} with v = w * B. The knots are the file's, so the bases
    equal the decompressed model's to float32 rounding, on any increasing knots.
    """

    def __init__(self, grid: np.ndarray, order: int):
        super().__init__()
        self.order = order
        # (1, in, n): ExecuTorch's broadcasting fails on a batch of 1 against a lower-rank operand
        self.register_buffer("knots", torch.from_numpy(grid.astype(np.float32)).unsqueeze(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the bases of every input; zero outside [t_0, t_{n-1}), as in bspline_basis."""
        knots, count = self.knots, self.knots.shape[2]
        offsets = x.unsqueeze(-1) - knots  # (B, in, n): x - t_i
        above = (offsets >= 0).to(x.dtype)  # [x >= t_i]
        bases = above[..., :-1] - above[..., 1:]  # order 0: t_i <= x < t_{i+1}
        for p in range(1, self.order + 1):
            v = offsets[..., :count - p] / (knots[..., p:] - knots[..., :count - p]) * bases
            bases = v[..., :-1] + (bases - v)[..., 1:]
        return bases


class CodebookEdges(nn.Module):
    """SHARe-KAN and k-means edges: bias + gain * codebook[index] (k-means: gain 1, bias 0), and base weights."""

    def __init__(self, layer: CompressedLayer, codebook_size: int):
        super().__init__()
        self.codebook_id = layer.codebook_id
        bits = index_bits(codebook_size)
        self.indices = PackedCodes(pack_bits(layer.indices, bits), bits, layer.indices.shape)
        self.gains = None if layer.gains is None else DequantizedTensor(layer.gains)
        self.biases = None if layer.biases is None else DequantizedTensor(layer.biases)
        self.base_weights = DequantizedTensor(layer.base_weights)

    def forward(self, codebooks: list[torch.Tensor]) -> torch.Tensor:
        """Edge weights (out, in, D + 1): the D spline coefficients, then the base weight."""
        spline = F.embedding(self.indices().to(torch.int64), codebooks[self.codebook_id])
        if self.gains is not None:
            spline = self.biases().unsqueeze(-1) + self.gains().unsqueeze(-1) * spline
        return torch.cat((spline, self.base_weights().unsqueeze(-1)), dim=2)


class StoredEdges(nn.Module):
    """Uniform and GPTQ edges: coefficients stored per edge, in (out, in * D) or per-group rows, and base weights."""

    def __init__(self, layer: CompressedLayer):
        super().__init__()
        self.coefficients = DequantizedTensor(layer.coefficients)
        self.base_weights = DequantizedTensor(layer.base_weights)
        self.shape = (layer.out_features, layer.in_features, layer.num_coefficients)

    def forward(self, codebooks: list[torch.Tensor]) -> torch.Tensor:
        """Edge weights (out, in, D + 1): the D spline coefficients, then the base weight."""
        return torch.cat((self.coefficients().reshape(self.shape), self.base_weights().unsqueeze(-1)), dim=2)


class KeptEdges(nn.Module):
    """Pruned edges: the kept edges' coefficients and base weights, placed by the 1-bit kept-edge mask."""

    def __init__(self, layer: CompressedLayer):
        super().__init__()
        self.edges = (layer.out_features, layer.in_features)
        self.kept = PackedCodes(pack_bits(layer.kept.astype(np.uint8), 1), 1, (layer.num_edges,))
        self.coefficients = DequantizedTensor(layer.coefficients)
        self.base_weights = DequantizedTensor(layer.base_weights)

    def forward(self, codebooks: list[torch.Tensor]) -> torch.Tensor:
        """Edge weights (out, in, D + 1); dropped edges are zero."""
        kept = self.kept()
        row = (torch.cumsum(kept, dim=0) - 1).clamp(min=0).to(torch.int64)  # each kept edge's stored row
        stored = torch.cat((self.coefficients(), self.base_weights().unsqueeze(-1)), dim=1)  # (kept, D + 1)
        return (F.embedding(row, stored) * kept.unsqueeze(-1)).reshape(*self.edges, -1)


class ProgramLayer(nn.Module):
    """One KAN layer: (B, in) -> (B, out), its weights decoded from the stored codes on every call."""

    def __init__(self, layer: CompressedLayer, codebook_sizes: list[int], base_activation: str):
        super().__init__()
        self.base_activation = base_activation
        uniform = layer.spline_order > 0 and is_uniform(layer.grid)
        self.bases = (UniformBases if uniform else KnotBases)(layer.grid, layer.spline_order)
        if layer.kept is not None:
            self.edges = KeptEdges(layer) if layer.kept.any() else None
        elif layer.coefficients is not None:
            self.edges = StoredEdges(layer)
        else:
            self.edges = CodebookEdges(layer, codebook_sizes[layer.codebook_id])
        self.register_buffer("output_scale", torch.from_numpy(layer.output_scale.copy()))
        self.register_buffer("output_bias", torch.from_numpy(layer.output_bias.copy()))

    def forward(self, x: torch.Tensor, codebooks: list[torch.Tensor]) -> torch.Tensor:
        """Map (B, in) to (B, out)."""
        if self.edges is None:  # every edge pruned: only the output affine is left
            return self.output_bias.expand(x.shape[0], -1)
        weights = self.edges(codebooks)  # (out, in, D + 1)
        activation = BASE_ACTIVATIONS[self.base_activation](x)
        features = torch.cat((self.bases(x), activation.unsqueeze(-1)), dim=2)  # (B, in, D + 1)
        spline_and_base = F.linear(features.reshape(x.shape[0], -1), weights.reshape(weights.shape[0], -1))
        return spline_and_base * self.output_scale + self.output_bias


class KANProgram(nn.Module):
    """A compressed KAN of any method as an exportable module: (B, in) -> (B, out), equal to its decompression."""

    def __init__(self, compressed: CompressedKAN):
        super().__init__()
        self.codebooks = nn.ModuleList(DequantizedTensor(codebook) for codebook in compressed.codebooks)
        sizes = [codebook.shape[0] for codebook in compressed.codebooks]
        self.layers = nn.ModuleList(ProgramLayer(layer, sizes, compressed.base_activation)
                                    for layer in compressed.layers)
        self.in_features = compressed.layers[0].in_features
        self.out_features = compressed.layers[-1].out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in_features) to (B, out_features)."""
        codebooks = [codebook() for codebook in self.codebooks]
        for layer in self.layers:
            x = layer(x, codebooks)
        return x
