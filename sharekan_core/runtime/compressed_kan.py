"""Compressed-domain KAN forward (LUTHAM-style): run straight from codebook, indices, gains and biases.

Per layer, with E = out * in edges, K codewords of D = G + k coefficients:
    bases    (B, in, D)    only k + 1 non-zero per input (local support)
    response (B, in, K)    every input's spline value under every codeword: bases @ codebook.T
    picked   (B, out, in)  response[b, i, indices[j, i]], a gather
    y[b, j] = sum_i gains[j,i] * picked[b,i,j] + biases[j,i] * sum_d B_d(x_i) + base[j,i] * silu(x_i)
The dense (out, in, D) spline tensor is never built; the codebook is the only shared table.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..compress.compressed import CompressedKAN, CompressedLayer
from ..errors import SharekanError
from .dequantize import DequantizedTensor
from .local_basis import knot_interval, local_bases, pad_knots, place_bases

RESPONSE_BUDGET = 1 << 23  # floats of (rows, in, K) responses per chunk (32 MiB): bounds memory at large batches


def index_dtype(codebook_size: int) -> torch.dtype:
    """Smallest integer dtype that holds indices below ``codebook_size``."""
    if codebook_size <= 256:
        return torch.uint8
    return torch.int16 if codebook_size <= 32_768 else torch.int32


class CompressedDomainLayer(nn.Module):
    """One KAN layer evaluated from its compressed form; the codebook is passed in (it may be shared)."""

    def __init__(self, layer: CompressedLayer, codebook_size: int):
        super().__init__()
        self.in_features, self.out_features = layer.in_features, layer.out_features
        self.order = layer.spline_order
        self.num_knots = layer.grid.shape[1]
        self.num_bases = self.num_knots - self.order - 1
        self.codebook_size = codebook_size
        self.register_buffer("knots", pad_knots(torch.from_numpy(layer.grid.copy()), self.order))
        self.register_buffer("indices", torch.from_numpy(layer.indices).to(index_dtype(codebook_size)))
        self._flat_index: torch.Tensor | None = None
        self.gains = DequantizedTensor(layer.gains)
        self.biases = DequantizedTensor(layer.biases)
        self.base_weights = DequantizedTensor(layer.base_weights)
        self.register_buffer("output_scale", torch.from_numpy(layer.output_scale.copy()))
        self.register_buffer("output_bias", torch.from_numpy(layer.output_bias.copy()))

    def gather_index(self) -> torch.Tensor:
        """Positions of response[i, indices[j, i]] in the flattened (in * K) responses, (out * in,) int.

        Eager runs keep it cached in int32 (4 bytes an edge, built once); exported programs
        rebuild it from the narrow stored indices so the .pte holds only those.
        """
        if self._flat_index is not None and not torch.compiler.is_exporting():
            return self._flat_index
        offsets = torch.arange(self.in_features) * self.codebook_size
        flat = (self.indices.to(torch.int64) + offsets).reshape(-1)
        if not torch.compiler.is_exporting():
            self._flat_index = flat.to(torch.int32)
        return flat

    def forward(self, x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
        """Map (B, in) to (B, out) given the dequantized codebook (K, D)."""
        batch = x.shape[0]
        real_knots = self.knots[:, self.order + 1:self.order + 1 + self.num_knots]
        interval = knot_interval(x, real_knots)
        bases = place_bases(local_bases(x, self.knots, interval, self.order), interval, self.order, self.num_bases)
        response = (bases.reshape(-1, self.num_bases) @ codebook.t()).reshape(batch, -1)
        picked = response.index_select(1, self.gather_index()).reshape(batch, self.out_features, self.in_features)
        spline = (picked * self.gains()).sum(dim=-1)
        linear = F.linear(F.silu(x), self.base_weights()) + F.linear(bases.sum(dim=-1), self.biases())
        return (spline + linear) * self.output_scale + self.output_bias


class CompressedDomainKAN(nn.Module):
    """A whole compressed KAN as a module: (B, in_features) -> (B, out_features), dequantizing inside forward."""

    def __init__(self, compressed: CompressedKAN):
        super().__init__()
        self.codebooks = nn.ModuleList(DequantizedTensor(c) for c in compressed.codebooks)
        self.codebook_ids = [layer.codebook_id for layer in compressed.layers]
        self.layers = nn.ModuleList(
            CompressedDomainLayer(layer, compressed.codebooks[layer.codebook_id].shape[0])
            for layer in compressed.layers)
        self.in_features = compressed.layers[0].in_features
        self.out_features = compressed.layers[-1].out_features
        widest = max(layer.in_features * layer.codebook_size for layer in self.layers)
        self.chunk_rows = max(1, RESPONSE_BUDGET // widest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in_features) to (B, out_features); large batches run in chunks to bound memory."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise SharekanError(f"expected input of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        if x.shape[0] <= self.chunk_rows:
            return self._forward_rows(x)
        return torch.cat([self._forward_rows(rows) for rows in x.split(self.chunk_rows)])

    def _forward_rows(self, x: torch.Tensor) -> torch.Tensor:
        codebooks = [codebook() for codebook in self.codebooks]
        for layer, codebook_id in zip(self.layers, self.codebook_ids):
            x = layer(x, codebooks[codebook_id])
        return x
