"""The Splines page's view model: one edge's curves and decomposition, ranked edges, the codebook atlas."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..compression import decompose
from ..format.accounting import dense_edge_bytes
from ..fidelity import spline_samples
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
    layer_bits_per_edge: float  # the layer's share of the file's payload (shared codebook included), per edge
    tensor_bytes: int           # the whole payload: every stored tensor
    file_bytes: int             # the file on disk: the payload plus its JSON header
    edges: int                  # edges of the whole model
    model_coef_rel_l2: float    # the model-wide figure the Compress page shows
    weighted: bool              # shapes were clustered weighted by gain**2

    @property
    def dense_bits(self) -> int:
        """Bits the dense edge costs: D coefficients, its base weight and spline scaler, all FP32."""
        return 8 * dense_edge_bytes(len(self.coefficients))

    @property
    def tensor_bits_per_edge(self) -> float:
        """The whole payload's bits per edge of the model."""
        return 8 * self.tensor_bytes / self.edges

    @property
    def file_bits_per_edge(self) -> float:
        """The file's bits (JSON header included) per edge of the model."""
        return 8 * self.file_bytes / self.edges

    @property
    def stored_bits(self) -> int:
        """Bits this edge owns in the compressed file: its index, gain, bias and base weight (codebook shared)."""
        return self.index_bits + sum(self.component_bits[name] for name in ("gains", "biases", "base_weights"))


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
    storage = result.storage.compressed
    layer_bits = 8 * sum(storage[str(layer)].values())
    if "shared" in storage:  # one codebook for the whole model: each edge carries an equal share of it
        layer_bits += 8 * sum(storage["shared"].values()) * stored.num_edges / compressed.num_edges
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
        layer_bits_per_edge=layer_bits / stored.num_edges,
        tensor_bytes=result.storage.compressed_bytes, file_bytes=result.file_bytes, edges=compressed.num_edges,
        model_coef_rel_l2=float(result.fidelity.coef_rel_l2),
        weighted=bool(getattr(compressed.config, "weighted", False)),
    )


def bits_words(story: EdgeStory) -> str:
    """The edge's bits, dense against compressed, counted on one basis: what each side stores for the edge."""
    own, bits = story.stored_bits, story.component_bits
    shared = story.layer_bits_per_edge - own
    return (f"**Bits for this edge**: {story.dense_bits:,} dense ({len(story.coefficients)} coefficients, a base "
            f"weight and a spline scaler, each FP32). Compressed, the edge owns **{own} bits** ({story.index_bits}-bit "
            f"index + {bits['gains']}-bit gain, the spline scaler folded in, + {bits['biases']}-bit bias + "
            f"{bits['base_weights']}-bit base weight), and carries **{shared:,.1f} bits** of what its layer shares "
            f"(codebook, quantization ranges, knots, output scales): **{story.layer_bits_per_edge:,.1f} bits per "
            f"edge**, the layer's bytes in the file × 8 ÷ its edges. Over the whole model: "
            f"{story.tensor_bits_per_edge:,.1f} bits per edge in the stored tensors ({story.tensor_bytes:,} bytes), "
            f"{story.file_bits_per_edge:,.1f} in the file on disk ({story.file_bytes:,} bytes, its JSON header "
            f"included).")


def error_words(story: EdgeStory) -> str:
    """Why this edge's error can sit well above the model-wide figure: that one weighs every edge by its size."""
    why = (" Clustering weights each shape by its gain², so the large edges are also the ones fitted most closely."
           if story.weighted else "")
    return (f"This edge's errors are its own ratios (its error ÷ its size). The model-wide coefficient rel. L2 on "
            f"the Compress page ({story.model_coef_rel_l2:.4f}) divides the error summed over every edge by their "
            f"summed size, so large edges count most and small ones little: a typical edge can be off by more "
            f"than the model-wide figure while the model as a whole is close.{why}")


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


def original_decomposition(model: KAN, layer: int, output: int, input_: int) -> tuple[pd.DataFrame, float, float]:
    """Before compression: one edge's spline, its bias line and its unit shape, with the bias and gain.

    Returns (frame with columns x, original, bias, unit shape; bias; gain).
    """
    spline = model.layers[layer]
    coefficients = spline.scaled_spline_weight()[output, input_].detach().double().numpy()
    parts = decompose(coefficients[None, :])
    xs, basis = spline_samples(spline.grid[input_:input_ + 1].detach().double().numpy(), spline.spline_order)
    frame = pd.DataFrame({"x": xs[0], "original": basis[0] @ coefficients,
                          "bias": np.full_like(xs[0], parts.biases[0]), "unit shape": basis[0] @ parts.shapes[0]})
    return frame, float(parts.biases[0]), float(parts.gains[0])


def decomposition_frame(model: KAN, story: EdgeStory) -> pd.DataFrame:
    """The decomposition drawn on the edge's own input domain, step by step.

    Columns: x; original; bias (the constant spline b: B-splines sum to one, so constant coefficients draw a
    line); unit shape (spline of u); codeword (spline of w); gain-scaled codeword (b' + g' w, the
    reconstruction); error (original - reconstruction).
    """
    layer = model.layers[story.layer]
    xs, basis = spline_samples(layer.grid[story.input:story.input + 1].detach().double().numpy(), layer.spline_order)
    xs, basis = xs[0], basis[0]
    original, reconstructed = basis @ story.coefficients, basis @ story.reconstructed
    return pd.DataFrame({"x": xs, "original": original, "bias": np.full_like(xs, story.bias),
                         "unit shape": basis @ story.shape, "codeword": basis @ story.codeword,
                         "gain-scaled codeword": reconstructed, "error": original - reconstructed})


def knots(model: KAN, layer: int, input_: int) -> np.ndarray:
    """The knots of one input's spline that fall inside its domain."""
    spline = model.layers[layer]
    grid = spline.grid[input_].detach().double().numpy()
    return grid[spline.spline_order:len(grid) - spline.spline_order]


def typical_edge(result: CompressionResult, layer: int) -> tuple[int, int]:
    """(output, input) of the edge whose function error is the median of the layer's (finite) errors."""
    errors = result.fidelity.layers[layer].edges.function_rel_rms
    return _median_position(errors)


def typical_original_edge(model: KAN, layer: int) -> tuple[int, int]:
    """(output, input) of the edge with the median gain (the size of its bend) before compression."""
    coefficients = model.layers[layer].scaled_spline_weight().detach().double().numpy()
    return _median_position(decompose(coefficients.reshape(-1, coefficients.shape[-1])).gains
                            .reshape(coefficients.shape[:2]))


def _median_position(values: np.ndarray) -> tuple[int, int]:
    flat = np.where(np.isfinite(values), values, np.nan).reshape(-1)
    order = np.argsort(np.nan_to_num(flat, nan=np.inf), kind="stable")
    finite = int(np.isfinite(flat).sum()) or len(flat)
    position = int(order[(finite - 1) // 2])
    return position // values.shape[1], position % values.shape[1]


def ranked_gains(model: KAN, layer: int, count: int = 10, largest: bool = True) -> pd.DataFrame:
    """Before compression: the ``count`` edges of ``layer`` with the largest (or smallest) gain."""
    coefficients = model.layers[layer].scaled_spline_weight().detach().double().numpy()
    in_features = coefficients.shape[1]
    parts = decompose(coefficients.reshape(-1, coefficients.shape[-1]))
    order = np.argsort(-parts.gains if largest else parts.gains, kind="stable")[:count]
    return pd.DataFrame({"output": order // in_features, "input": order % in_features,
                         "gain": parts.gains[order], "bias": parts.biases[order]})


def coefficient_histogram(model: KAN, layer: int, bins: int = 60) -> pd.DataFrame:
    """Histogram of one layer's effective coefficients: columns low, high, count (edges are bin ends)."""
    values = model.layers[layer].scaled_spline_weight().detach().double().numpy().reshape(-1)
    counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": counts})


def edges_using(result: CompressionResult, layer: int, codeword: int) -> tuple[int, int] | None:
    """(output, input) of the typical (median-error) edge of ``layer`` pointing at ``codeword``; None if none."""
    indices = result.compressed.layers[layer].indices
    errors = result.fidelity.layers[layer].edges.function_rel_rms
    if not (indices == codeword).any():
        return None
    return _median_position(np.where(indices == codeword, errors, np.nan))
