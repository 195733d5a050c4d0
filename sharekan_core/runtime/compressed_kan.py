"""Compressed-domain KAN forward (LUTHAM-style): run straight from codebook, indices, gains and biases.

Per layer, with E = out * in edges, K codewords of D = G + k coefficients, two ways to the
spline term y[b, j] = sum_i gains[j,i] * sum_d B_d(x_i) * codebook[indices[j,i], d]:

response path (small B * K):
    bases    (B, in, D)    only k + 1 non-zero per input (local support)
    response (B, in, K)    every input's spline value under every codeword: bases @ codebook.T
    picked   (B, out, in)  response[b, i, indices[j, i]], a gather (fused with the gain-weighted
                           sum by embedding_bag in eager runs)
tile path (large B * K): for a block of T output rows at a time, decode the tile
    gains * codebook[indices] (T, in, D) from the codebook (sized to stay in cache), then
    one matrix product with the bases, whose cost does not grow with K.

Plus biases[j,i] * sum_d B_d(x_i) and base[j,i] * act(x_i), act the model's base activation (SiLU by
default). The full dense (out, in, D) spline tensor is never built: at most one cache-sized tile of it
exists at a time.

Eager CPU calls without gradients run the fused numba kernels of ``fused_kernel`` instead when
numba imports (``backend='auto'``); these two torch paths are their fallback and what
``export-detector`` traces (a KAN alone exports as ``runtime.program.KANProgram``). The plain
reference both are tested against is ``decompress(compressed)(x)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..compression.compressed import CompressedKAN, CompressedLayer
from ..errors import SharekanError
from ..model.kan import BASE_ACTIVATIONS
from .dequantize import DequantizedTensor

try:  # the fused kernels need numba; without it every call takes the torch paths below
    from .fused_kernel import COMPILE_NOTE, FusedKAN, kernels_cached
except ImportError:  # pragma: no cover - numba is pinned in requirements.txt
    FusedKAN, COMPILE_NOTE = None, ""
BACKENDS = ("auto", "fused", "torch")
from .local_basis import knot_interval, local_bases, pad_knots, place_bases
from .routes import RESPONSE_BUDGET, TILE_FLOATS, index_bytes, use_tiles

def index_dtype(codebook_size: int) -> torch.dtype:
    """The torch path's index dtype: ``routes.index_bytes`` wide, signed where torch's indexing lacks the
    unsigned type (uint16), which widens K > 32,768 to int32."""
    if index_bytes(codebook_size) == 1:
        return torch.uint8
    return torch.int16 if codebook_size <= 32_768 else torch.int32


class CompressedDomainLayer(nn.Module):
    """One KAN layer evaluated from its compressed form; the codebook is passed in (it may be shared)."""

    def __init__(self, layer: CompressedLayer, codebook_size: int, base_activation: str):
        super().__init__()
        self.base_activation = base_activation
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
        gains = self.gains()
        # Exported programs take the tile route at every batch: a dynamic-batch program cannot branch
        # on its batch, and a tile's memory does not grow with K, so the largest batch's plan stays small.
        if torch.compiler.is_exporting() or use_tiles(batch, self.in_features, self.out_features,
                                                      self.codebook_size, self.num_bases):
            spline = self._tiled_spline(bases, codebook, gains)
        else:
            spline = self._response_spline(bases, codebook, gains)
        activation = BASE_ACTIVATIONS[self.base_activation](x)
        linear = F.linear(activation, self.base_weights()) + F.linear(bases.sum(dim=-1), self.biases())
        return (spline + linear) * self.output_scale + self.output_bias


    def _response_spline(self, bases: torch.Tensor, codebook: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """Spline term through every input's response to every codeword, then a per-edge gather. (B, out)."""
        batch = bases.shape[0]
        response = (bases.reshape(-1, self.num_bases) @ codebook.t()).reshape(batch, -1)
        if torch.compiler.is_exporting():
            picked = response.index_select(1, self.gather_index()).reshape(batch, self.out_features, self.in_features)
            return (picked * gains).sum(dim=-1)
        # embedding_bag fuses gather, gain scaling and the sum over inputs in one pass over the edges.
        return F.embedding_bag(self.gather_index().view(self.out_features, self.in_features),
                               response.t().contiguous(), per_sample_weights=gains, mode="sum").t()

    def _tiled_spline(self, bases: torch.Tensor, codebook: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """Spline term by decoding (T, in, D) tiles of gain * codeword and multiplying with the bases. (B, out)."""
        flat_bases = bases.reshape(bases.shape[0], -1)
        rows = max(1, TILE_FLOATS // (self.in_features * self.num_bases))
        indices = self.indices.to(torch.int64)
        parts = []
        for start in range(0, self.out_features, rows):
            stop = min(start + rows, self.out_features)
            # embedding is a row copy per index: several times faster than advanced indexing here
            tile = F.embedding(indices[start:stop], codebook) * gains[start:stop].unsqueeze(-1)
            parts.append(flat_bases @ tile.reshape(stop - start, -1).t())
        return torch.cat(parts, dim=1)


class CompressedDomainKAN(nn.Module):
    """A whole compressed KAN as a module: (B, in_features) -> (B, out_features), dequantizing inside forward.

    ``backend``: 'auto' runs eager CPU calls without gradients through the fused numba kernels
    when numba imports, else the torch paths; 'fused' requires the kernels; 'torch' never uses them.
    """

    def __init__(self, compressed: CompressedKAN, backend: str = "auto"):
        super().__init__()
        if backend not in BACKENDS:
            raise SharekanError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "fused" and (FusedKAN is None or not FusedKAN.supports(compressed)):
            raise SharekanError("backend 'fused' needs numba and a codebook compression with gains and biases")
        usable = backend != "torch" and FusedKAN is not None and FusedKAN.supports(compressed)
        self.fused = FusedKAN.from_compressed(compressed) if usable else None
        self.codebooks = nn.ModuleList(DequantizedTensor(c) for c in compressed.codebooks)
        self.codebook_ids = [layer.codebook_id for layer in compressed.layers]
        self.layers = nn.ModuleList(
            CompressedDomainLayer(layer, compressed.codebooks[layer.codebook_id].shape[0], compressed.base_activation)
            for layer in compressed.layers)
        self.in_features = compressed.layers[0].in_features
        self.out_features = compressed.layers[-1].out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in_features) to (B, out_features); large batches run in chunks to bound memory."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise SharekanError(f"expected input of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        if self.runs_fused(x):
            return torch.from_numpy(self.fused(x.detach().numpy()))
        if torch.compiler.is_exporting():  # one graph for every batch: no batch-dependent chunking
            return self._forward_rows(x)
        rows = self.chunk_rows(x.shape[0])
        if x.shape[0] <= rows:
            return self._forward_rows(x)
        return torch.cat([self._forward_rows(part) for part in x.split(rows)])

    def first_call_note(self) -> str | None:
        """What to tell a user before the first forward when it compiles the fused kernels; None when cached."""
        return self.compile_note() if self.fused is not None else None

    @staticmethod
    def compile_note() -> str | None:
        """The fused kernels' first-run note when they are neither compiled in this process nor cached on disk."""
        return COMPILE_NOTE if FusedKAN is not None and not kernels_cached() else None

    def runs_fused(self, x: torch.Tensor) -> bool:
        """True when this call goes through the fused kernels (eager, CPU float32, no gradient needed)."""
        return (self.fused is not None and not torch.compiler.is_exporting() and x.device.type == "cpu"
                and x.dtype == torch.float32 and not (x.requires_grad and torch.is_grad_enabled()))

    def chunk_rows(self, batch: int) -> int:
        """Rows per chunk so that responses (response path) or bases (tile path) stay within budget."""
        limits = []
        for layer in self.layers:
            if use_tiles(batch, layer.in_features, layer.out_features, layer.codebook_size, layer.num_bases):
                limits.append(RESPONSE_BUDGET // (layer.in_features * layer.num_bases))
            else:
                limits.append(RESPONSE_BUDGET // (layer.in_features * layer.codebook_size))
        return max(1, min(limits))

    def _forward_rows(self, x: torch.Tensor) -> torch.Tensor:
        codebooks = [codebook() for codebook in self.codebooks]
        for layer, codebook_id in zip(self.layers, self.codebook_ids):
            x = layer(x, codebooks[codebook_id])
        return x
