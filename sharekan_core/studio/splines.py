"""The Splines page's view model: one edge's curves and decomposition, ranked edges, the codebook atlas."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..compress import decompose
from ..metrics import spline_samples
from ..model import KAN
from ..results import CompressionResult


@dataclass(frozen=True)
class EdgeStory:
    """One edge told through Gain-Shape-Bias: its original numbers and what the compressed file keeps."""

    layer: int
    output: int
    input: int
    coefficients: np.ndarray   # (D,) original effective coefficients
    bias: float                # mean of the coefficients
    gain: float                # norm of the centred coefficients
    shape: np.ndarray          # (D,) unit-norm, zero-mean
    codeword_index: int
    codeword: np.ndarray       # (D,) the shared shape this edge points at (dequantized)
    stored_gain: float         # dequantized gain kept in the file (least-squares refit when enabled)
    stored_bias: float         # dequantized bias kept in the file
    reconstructed: np.ndarray  # (D,) stored_bias + stored_gain * codeword
    shape_cosine: float        # cosine between the edge's shape and its codeword
    codebook_size: int
    index_bits: int
    component_bits: dict
    coef_rel_l2: float
    function_rel_rms: float

    @property
    def dense_bits(self) -> int:
        """Bits the dense edge costs: D FP32 coefficients."""
        return 32 * len(self.coefficients)

    @property
    def stored_bits(self) -> int:
        """Bits this edge owns in the compressed file: its index, gain and bias (codebook shared)."""
        return self.index_bits + self.component_bits["gains"] + self.component_bits["biases"]


def edge_story(model: KAN, result: CompressionResult, layer: int, output: int, input_: int) -> EdgeStory:
    """Decompose one edge of ``model`` and line it up against its compressed form in ``result``."""
    coefficients = model.layers[layer].scaled_spline_weight()[output, input_].detach().double().numpy()
    parts = decompose(coefficients[None, :])
    compressed = result.compressed
    stored = compressed.layers[layer]
    index = int(stored.indices[output, input_])
    codeword = compressed.codebooks[stored.codebook_id].dequantize()[index].astype(np.float64)
    gain = float(stored.gains.dequantize()[output, input_])
    bias = float(stored.biases.dequantize()[output, input_])
    shape = parts.shapes[0].astype(np.float64)
    norms = np.linalg.norm(shape) * np.linalg.norm(codeword)
    edges = result.fidelity.layers[layer].edges
    return EdgeStory(
        layer=layer, output=output, input=input_, coefficients=coefficients,
        bias=float(parts.biases[0]), gain=float(parts.gains[0]), shape=shape,
        codeword_index=index, codeword=codeword, stored_gain=gain, stored_bias=bias,
        reconstructed=bias + gain * codeword,
        shape_cosine=float(shape @ codeword / norms) if norms > 0 else 0.0,
        codebook_size=int(compressed.codebooks[stored.codebook_id].shape[0]),
        index_bits=compressed.index_bits(stored.codebook_id),
        component_bits=compressed.config.component_bits(),
        coef_rel_l2=float(edges.coef_rel_l2[output, input_]),
        function_rel_rms=float(edges.function_rel_rms[output, input_]),
    )


def edge_curves(model: KAN, story: EdgeStory) -> pd.DataFrame:
    """Spline value over the input's domain, original and reconstructed: columns x, original, reconstructed."""
    layer = model.layers[story.layer]
    xs, basis = spline_samples(layer.grid.detach().double().numpy(), layer.spline_order)
    xs, basis = xs[story.input], basis[story.input]  # (S,), (S, D)
    return pd.DataFrame({"x": xs, "original": basis @ story.coefficients, "reconstructed": basis @ story.reconstructed})


def coefficient_frame(story: EdgeStory) -> pd.DataFrame:
    """Per coefficient d: original c_d, shape u_d, codeword w_d and reconstruction b' + g' w_d."""
    return pd.DataFrame({
        "d": np.arange(len(story.coefficients)),
        "original c": story.coefficients,
        "shape u": story.shape,
        "codeword w": story.codeword,
        "reconstructed": story.reconstructed,
    })


def ranked_edges(result: CompressionResult, layer: int, count: int = 10, worst: bool = True) -> pd.DataFrame:
    """The ``count`` edges of ``layer`` with the highest (worst) or lowest (best) function error."""
    edges = result.fidelity.layers[layer].edges
    errors = edges.function_rel_rms.reshape(-1)
    finite = np.where(np.isfinite(errors), errors, np.inf if worst else -np.inf)
    order = np.argsort(-finite if worst else finite, kind="stable")[:count]
    in_features = edges.function_rel_rms.shape[1]
    indices = result.compressed.layers[layer].indices.reshape(-1)
    return pd.DataFrame({
        "output": order // in_features,
        "input": order % in_features,
        "function rel. RMS": errors[order],
        "coef rel. L2": edges.coef_rel_l2.reshape(-1)[order],
        "coef R²": edges.coef_r2.reshape(-1)[order],
        "codeword": indices[order],
    })


def codebook_usage(result: CompressionResult, codebook_id: int) -> np.ndarray:
    """How many edges point at each codeword of one codebook, shape (K_eff,)."""
    compressed = result.compressed
    size = compressed.codebooks[codebook_id].shape[0]
    counts = np.zeros(size, dtype=np.int64)
    for layer in compressed.layers:
        if layer.codebook_id == codebook_id:
            counts += np.bincount(layer.indices.reshape(-1), minlength=size)
    return counts


def atlas_frame(result: CompressionResult, codebook_id: int, top: int = 12) -> pd.DataFrame:
    """The ``top`` most used codewords drawn as curves over one input's domain.

    Columns: rank, codeword, usage, x, value (the codeword's spline, unit gain, zero bias).
    """
    compressed = result.compressed
    usage = codebook_usage(result, codebook_id)
    codebook = compressed.codebooks[codebook_id].dequantize().astype(np.float64)
    layer = next(layer for layer in compressed.layers if layer.codebook_id == codebook_id)
    xs, basis = spline_samples(layer.grid[:1].astype(np.float64), layer.spline_order)
    order = np.argsort(-usage, kind="stable")[:top]
    frames = []
    for rank, index in enumerate(order, start=1):
        frames.append(pd.DataFrame({"rank": rank, "codeword": int(index), "usage": int(usage[index]),
                                    "x": xs[0], "value": basis[0] @ codebook[index]}))
    return pd.concat(frames, ignore_index=True)
