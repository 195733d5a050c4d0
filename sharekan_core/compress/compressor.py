"""compress(model, config) -> CompressedKAN: decompose, cluster, refit, quantize."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..errors import SharekanError
from ..model import KAN
from .codebook import build_codebook
from .compressed import CompressedKAN, CompressedLayer
from .config import CompressionConfig
from .decompose import GainShapeBias, decompose, refit_gains
from .quantize import QuantizedTensor, quantize

Progress = Callable[[float, str], None]


def effective_coefficients(model: KAN) -> list[np.ndarray]:
    """Per layer, the scaled spline coefficients r * c as float64 (out, in, D), checked finite."""
    result = []
    for index, layer in enumerate(model.layers):
        coefficients = layer.scaled_spline_weight().detach().to(torch.float64).numpy()
        if not np.isfinite(coefficients).all():
            raise SharekanError(f"layer {index} has NaN or Inf spline coefficients")
        result.append(coefficients)
    return result


def compress(model: KAN, config: CompressionConfig, progress: Progress | None = None,
             metadata: dict | None = None,
             given_codebooks: list[np.ndarray | QuantizedTensor] | None = None) -> CompressedKAN:
    """Compress every layer of ``model`` with a shared codebook per layer or for the whole model.

    ``given_codebooks`` (one (K, D) array per layer, or one for scope 'global') skips clustering and
    assigns each shape to its nearest given codeword: zero-shot transfer of another model's codebook.
    A given QuantizedTensor is kept bit for bit, so heads can share it exactly.
    """
    report = progress or (lambda fraction, message: None)
    coefficients = effective_coefficients(model)
    widths = {c.shape[-1] for c in coefficients}
    if config.scope == "global" and len(widths) > 1:
        raise SharekanError(f"scope 'global' needs one coefficient count in all layers, found {sorted(widths)}")
    report(0.0, "decomposing splines into gain, shape and bias")
    parts = [decompose(c.reshape(-1, c.shape[-1])) for c in coefficients]
    groups = [[i] for i in range(len(parts))] if config.scope == "layer" else [list(range(len(parts)))]
    if given_codebooks is not None:
        _check_given_codebooks(given_codebooks, len(groups), coefficients)
    bits = config.component_bits()
    codebooks: list[QuantizedTensor] = []
    assignments: dict[int, np.ndarray] = {}
    for group_id, members in enumerate(groups):
        start, span = 0.05 + 0.85 * group_id / len(groups), 0.85 / len(groups)
        group_parts = [parts[i] for i in members]
        if given_codebooks is None:
            codebook, assigned = _cluster(group_parts, config, lambda f, m: report(start + span * f, m))
        else:
            given = given_codebooks[group_id]
            if isinstance(given, QuantizedTensor):
                codebooks.append(given)
                assigned = assign_to_codebook(group_parts, given.dequantize())
            else:
                codebook = np.asarray(given, np.float32)
                assigned = assign_to_codebook(group_parts, codebook)
        if len(codebooks) == group_id:
            codebooks.append(quantize(codebook, bits["codebook"], f"codebook {group_id}", grouping="columns"))
        offset = 0
        for member in members:
            count = len(parts[member].gains)
            assignments[member] = assigned[offset:offset + count]
            offset += count
    report(0.9, "quantizing gains, biases and base weights")
    layers = []
    for index, (layer, part) in enumerate(zip(model.layers, parts)):
        codebook_id = index if config.scope == "layer" else 0
        indices = assignments[index]
        gains = part.gains
        if config.refit_gain:
            codewords = codebooks[codebook_id].dequantize()[indices]
            gains = np.where(part.flat, 0.0, refit_gains(coefficients[index].reshape(len(indices), -1), part.biases, codewords))
        shape2d = (layer.out_features, layer.in_features)
        layers.append(CompressedLayer(
            grid=layer.grid.detach().numpy().astype(np.float32).copy(),
            spline_order=layer.spline_order,
            codebook_id=codebook_id,
            indices=indices.reshape(shape2d),
            gains=quantize(gains.reshape(shape2d), bits["gains"], f"layer {index} gains"),
            biases=quantize(part.biases.reshape(shape2d), bits["biases"], f"layer {index} biases"),
            base_weights=quantize(layer.base_weight.detach().numpy(), bits["base_weights"], f"layer {index} base weights"),
            output_scale=layer.output_scale.detach().numpy().astype(np.float32).copy(),
            output_bias=layer.output_bias.detach().numpy().astype(np.float32).copy(),
        ))
    report(1.0, "done")
    return CompressedKAN(codebooks, layers, config, dict(metadata or {}))


def _cluster(parts: list[GainShapeBias], config: CompressionConfig, progress: Progress) -> tuple[np.ndarray, np.ndarray]:
    """Return (codebook (K_eff, D), assignment per edge) for the concatenated edges of ``parts``."""
    shapes = np.concatenate([p.shapes for p in parts])
    gains = np.concatenate([p.gains for p in parts])
    live = gains > 0
    assigned = np.zeros(len(gains), dtype=np.int64)
    if not live.any():  # every spline is flat: one zero codeword serves all edges
        return np.zeros((1, shapes.shape[1]), np.float32), assigned
    weights = (gains[live] ** 2).astype(np.float32) if config.weighted else None
    result = build_codebook(shapes[live], config.codebook_size, seed=config.seed,
                            weights=weights, progress=progress)
    assigned[live] = result.assignments
    return result.centroids.astype(np.float32), assigned


def assign_to_codebook(parts: list[GainShapeBias], codebook: np.ndarray) -> np.ndarray:
    """Nearest codeword (squared Euclidean) for every live shape; flat edges get index 0."""
    import faiss  # exact flat search: deterministic and fast

    shapes = np.concatenate([p.shapes for p in parts]).astype(np.float32)
    live = np.concatenate([p.gains for p in parts]) > 0
    assigned = np.zeros(len(shapes), dtype=np.int64)
    if live.any():
        index = faiss.IndexFlatL2(codebook.shape[1])
        index.add(np.ascontiguousarray(codebook, np.float32))
        assigned[live] = index.search(np.ascontiguousarray(shapes[live]), 1)[1][:, 0]
    return assigned


def _check_given_codebooks(codebooks: list[np.ndarray | QuantizedTensor], groups: int, coefficients: list[np.ndarray]) -> None:
    if len(codebooks) != groups:
        raise SharekanError(f"expected {groups} codebook(s) for this scope, got {len(codebooks)}")
    for group_id, given in enumerate(codebooks):
        codebook = given.dequantize() if isinstance(given, QuantizedTensor) else given
        width = coefficients[group_id].shape[-1]
        if np.ndim(codebook) != 2 or np.shape(codebook)[1] != width or not 1 <= len(codebook) <= 65_536:
            raise SharekanError(f"codebook {group_id} must have shape (K, {width}) with 1 <= K <= 65,536, "
                                f"got {tuple(np.shape(codebook))}")
        if not np.isfinite(codebook).all():
            raise SharekanError(f"codebook {group_id} contains NaN or Inf values")
