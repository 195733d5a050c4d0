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
             metadata: dict | None = None) -> CompressedKAN:
    """Compress every layer of ``model`` with a shared codebook per layer or for the whole model."""
    report = progress or (lambda fraction, message: None)
    coefficients = effective_coefficients(model)
    widths = {c.shape[-1] for c in coefficients}
    if config.scope == "global" and len(widths) > 1:
        raise SharekanError(f"scope 'global' needs one coefficient count in all layers, found {sorted(widths)}")
    report(0.0, "decomposing splines into gain, shape and bias")
    parts = [decompose(c.reshape(-1, c.shape[-1])) for c in coefficients]
    groups = [[i] for i in range(len(parts))] if config.scope == "layer" else [list(range(len(parts)))]
    bits = config.component_bits()
    codebooks: list[QuantizedTensor] = []
    assignments: dict[int, np.ndarray] = {}
    for group_id, members in enumerate(groups):
        start, span = 0.05 + 0.85 * group_id / len(groups), 0.85 / len(groups)
        codebook, assigned = _cluster([parts[i] for i in members], config,
                                      lambda f, m: report(start + span * f, m))
        codebooks.append(quantize(codebook, bits["codebook"], f"codebook {group_id}"))
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
