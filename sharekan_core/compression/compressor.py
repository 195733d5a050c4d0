"""SHARe-KAN compression as named stages that read top to bottom:

    decompose      each layer's effective coefficients c = bias + gain * shape      decompose_layers
    cluster        fit one shared codebook per group of layers                       fit_codebook
      or assign    ... or take given codebooks and only assign to them               assign_edges
    refit          gains (and, with calibration, biases) against the chosen codewords  refit_edges
    quantize       codebook, gains, biases and base weights                          quantize_codebook, pack
    pack           the CompressedKAN                                                 pack

``compress_sharekan`` runs them all; ``compress_with_codebooks`` runs every stage but clustering (zero-shot
transfer). With calibration inputs every distance is measured in function space (see ``data_aware``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import SharekanError
from ..model import KAN
from ..progress import Progress, silent
from .layer_statistics import basis_moments, layer_inputs
from .codebook import ShapeCodebook
from .compressed import CompressedKAN, CompressedLayer, uncompressed_fields
from .config import CompressionConfig
from .data_aware import EdgeMetric, fit_codewords, metric_assign, refit_gain_bias
from .decompose import GainShapeBias, decompose, refit_gains
from .quantize import QuantizedTensor, quantize
from .registry import register_handler


@dataclass(frozen=True)
class EdgeGroup:
    """The edges that share one codebook, concatenated over the group's layers (E edges, D coefficients)."""

    layers: tuple[int, ...]
    coefficients: np.ndarray    # (E, D) float64, effective coefficients r * c
    parts: GainShapeBias        # gains (E,), unit shapes (E, D), biases (E,)
    metric: EdgeMetric | None   # with calibration: each edge's basis second moment H_i

    def split(self, values: np.ndarray, model: KAN) -> dict[int, np.ndarray]:
        """Per-edge ``values`` (E, ...) cut back into the group's layers."""
        counts = [model.layers[i].in_features * model.layers[i].out_features for i in self.layers]
        return dict(zip(self.layers, np.split(values, np.cumsum(counts)[:-1])))


def effective_coefficients(model: KAN) -> list[np.ndarray]:
    """Per layer, the scaled spline coefficients r * c as float64 (out, in, D), checked finite."""
    result = []
    for index, layer in enumerate(model.layers):
        coefficients = layer.scaled_spline_weight().detach().to(torch.float64).numpy()
        if not np.isfinite(coefficients).all():
            raise SharekanError(f"layer {index} has NaN or Inf spline coefficients")
        result.append(coefficients)
    return result


@register_handler(CompressionConfig)
def compress_sharekan(model: KAN, config: CompressionConfig, calibration: np.ndarray | None = None, *,
                      progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Compress every layer of ``model`` with a shared codebook per layer or for the whole model.

    ``calibration`` (N, in_features) makes every stage minimise function-space error on those inputs.
    """
    report = progress or silent
    report(0.0, "decomposing splines into gain, shape and bias")
    groups = decompose_layers(model, config, calibration)
    codebooks = []
    for group_id, group in enumerate(groups):
        start, span = 0.05 + 0.85 * group_id / len(groups), 0.85 / len(groups)
        codebooks.append(fit_codebook(group, config, lambda f, m: report(start + span * f, m)))
    return _assign_refit_pack(model, config, groups, codebooks, report, metadata)


def compress_with_codebooks(model: KAN, config: CompressionConfig,
                            codebooks: list[ShapeCodebook | QuantizedTensor],
                            calibration: np.ndarray | None = None, *, progress: Progress | None = None,
                            metadata: dict | None = None) -> CompressedKAN:
    """Compress ``model`` against given codebooks (one per layer, or one for scope 'global'): assignment only.

    A given QuantizedTensor is stored bit for bit, so several heads can share it exactly.
    """
    report = progress or silent
    groups = decompose_layers(model, config, calibration)
    if len(codebooks) != len(groups):
        raise SharekanError(f"expected {len(groups)} codebook(s) for this scope, got {len(codebooks)}")
    for group_id, (group, given) in enumerate(zip(groups, codebooks)):
        width = given.shape[1] if isinstance(given, QuantizedTensor) else given.centroids.shape[1]
        if width != group.coefficients.shape[1]:
            raise SharekanError(f"codebook {group_id} has {width} coefficients per codeword, "
                                f"the model's layers have {group.coefficients.shape[1]}")
    return _assign_refit_pack(model, config, groups, codebooks, report, metadata)


def _assign_refit_pack(model: KAN, config: CompressionConfig, groups: list[EdgeGroup],
                       codebooks: list[ShapeCodebook | QuantizedTensor], report: Progress,
                       metadata: dict | None) -> CompressedKAN:
    """The stages after clustering: assign, quantize the codebook, refit, quantize and pack."""
    stored, indices, gains, biases = [], {}, {}, {}
    report(0.9, "assigning, refitting and quantizing")
    for group_id, (group, codebook) in enumerate(zip(groups, codebooks)):
        codebook_bits = config.component_bits(group.layers[0] if config.scope == "layer" else None)["codebook"]
        quantized = codebook if isinstance(codebook, QuantizedTensor) else quantize_codebook(codebook, codebook_bits, group_id)
        codewords = quantized.dequantize()
        fitted = None if isinstance(codebook, QuantizedTensor) else codebook.assignments
        assigned = assign_edges(group, codewords, fitted)
        group_gains, group_biases = refit_edges(group, codewords[assigned], config)
        stored.append(quantized)
        indices.update(group.split(assigned, model))
        gains.update(group.split(group_gains, model))
        biases.update(group.split(group_biases, model))
    compressed = pack(model, config, stored, indices, gains, biases, metadata)
    report(1.0, "done")
    return compressed


def decompose_layers(model: KAN, config: CompressionConfig, calibration: np.ndarray | None = None) -> list[EdgeGroup]:
    """Stage 1: every layer's edges split into gain, shape and bias, grouped by shared codebook."""
    config.check_layers(len(model.layers))
    coefficients = effective_coefficients(model)
    widths = {c.shape[-1] for c in coefficients}
    if config.scope == "global" and len(widths) > 1:
        raise SharekanError(f"scope 'global' needs one coefficient count in all layers, found {sorted(widths)}")
    moments = None
    if calibration is not None:
        moments = [basis_moments(layer, x) for layer, x in zip(model.layers, layer_inputs(model, calibration))]
    members = [[i] for i in range(len(coefficients))] if config.scope == "layer" else [list(range(len(coefficients)))]
    groups = []
    for layers in members:
        flat = np.concatenate([coefficients[i].reshape(-1, coefficients[i].shape[-1]) for i in layers])
        metric = None if moments is None else EdgeMetric.for_layers([moments[i] for i in layers],
                                                                    [model.layers[i].out_features for i in layers])
        groups.append(EdgeGroup(tuple(layers), flat, decompose(flat), metric))
    return groups


def fit_codebook(group: EdgeGroup, config: CompressionConfig, progress: Progress | None = None) -> ShapeCodebook:
    """Stage 2, cluster: k-means of the live shapes (weighted by gain**2), refined under the metric if any."""
    parts = group.parts
    live = parts.gains > 0
    if not live.any():  # every spline is flat: one zero codeword serves all edges
        return ShapeCodebook.from_centroids(np.zeros((1, parts.shapes.shape[1]), np.float32))
    weights = (parts.gains[live] ** 2).astype(np.float32) if config.weighted else None
    codebook = ShapeCodebook(config.codebook_size, seed=config.seed, method=config.kmeans_method,
                             spherical=config.spherical)
    codebook.fit(parts.shapes[live], weights, progress)
    if group.metric is None or config.data_aware_passes == 0:
        return codebook
    centroids = fit_codewords(group.coefficients[live], parts, live, codebook.centroids, group.metric,
                              config.data_aware_passes, config.weighted)
    return ShapeCodebook.from_centroids(centroids)


def quantize_codebook(codebook: ShapeCodebook, bits: int, codebook_id: int = 0) -> QuantizedTensor:
    """Stage 4 for the codebook: one affine pair per coefficient column."""
    return quantize(codebook.centroids, bits, f"codebook {codebook_id}", grouping="columns")


def assign_edges(group: EdgeGroup, codewords: np.ndarray, fitted: np.ndarray | None = None) -> np.ndarray:
    """Stage 2, assign: each live edge's codeword (nearest shape, or least function error); flat edges get 0.

    ``fitted``: the live edges' assignments from the k-means that made the codebook, kept as they are.
    """
    live = group.parts.gains > 0
    assigned = np.zeros(len(live), dtype=np.int64)
    if live.any():
        if fitted is not None and group.metric is None:
            assigned[live] = fitted
        elif group.metric is None:
            assigned[live] = ShapeCodebook.from_centroids(codewords).assign(group.parts.shapes[live])
        else:
            assigned[live] = metric_assign(group.coefficients[live], group.parts.biases[live], codewords,
                                           group.metric.subset(live))
    return assigned


def refit_edges(group: EdgeGroup, codewords: np.ndarray, config: CompressionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stage 3: (gains, biases) of every edge against its codeword (E, D); flat edges keep gain 0."""
    parts, flat = group.parts, group.parts.flat
    if group.metric is not None:
        gains, biases = refit_gain_bias(group.coefficients, codewords, group.metric,
                                        None if config.refit_gain else parts.gains)
        return np.where(flat, 0.0, gains), np.where(flat, parts.biases, biases)
    if not config.refit_gain:
        return parts.gains, parts.biases
    return np.where(flat, 0.0, refit_gains(group.coefficients, parts.biases, codewords)), parts.biases


def pack(model: KAN, config: CompressionConfig, codebooks: list[QuantizedTensor], indices: dict[int, np.ndarray],
         gains: dict[int, np.ndarray], biases: dict[int, np.ndarray], metadata: dict | None = None) -> CompressedKAN:
    """Stage 5: quantize gains, biases and base weights and assemble the CompressedKAN."""
    config.check_layers(len(model.layers))
    layers = []
    for index, layer in enumerate(model.layers):
        bits = config.component_bits(index)
        shape2d = (layer.out_features, layer.in_features)
        layers.append(CompressedLayer(
            codebook_id=index if config.scope == "layer" else 0,
            indices=indices[index].reshape(shape2d),
            gains=quantize(gains[index].reshape(shape2d), bits["gains"], f"layer {index} gains"),
            biases=quantize(biases[index].reshape(shape2d), bits["biases"], f"layer {index} biases"),
            base_weights=quantize(layer.base_weight.detach().numpy(), bits["base_weights"], f"layer {index} base weights"),
            **uncompressed_fields(layer)))
    return CompressedKAN(codebooks, layers, config, dict(metadata or {}), model.config.base_activation)


def __getattr__(name: str) -> Any:
    """``compressor.compress``: the old name of ``compress_sharekan``, deprecated for one release."""
    if name == "compress":
        warnings.warn("sharekan_core.compression.compressor.compress is deprecated; call compress_sharekan "
                      "(or sharekan_core.compress, which picks the method from the config)",
                      DeprecationWarning, stacklevel=2)
        return compress_sharekan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
