"""Byte-budget search: the best compressed file that fits in ``max_bytes``, over methods, K and bit-widths.

Quality is the relative output error of the reconstructed model against the dense one on the
calibration inputs, or, without them, on inputs drawn uniformly inside every first-layer input's grid.

Candidates (each sized by the closed-form accounting of format/accounting.py plus a header allowance, then checked on
the encoded file, header included):
  * the default configuration of that size: SHARe-KAN at Int8 (Int4 if no Int8 file fits) with the
    largest K that fits;
  * two mixed-precision paths, each step with the largest K that fits: components (gains, biases,
    base weights, codebook) lowered to Int4 one at a time in every layer, and layers lowered to Int4
    one at a time (all of a layer's components), least sensitive first. Sensitivity is the output
    error when that component, or that layer, alone is rounded to Int4. Data-aware SHARe-KAN too
    when calibration is given;
  * uniform round-to-nearest and GPTQ at the most bits that fit; MetaCluster k-means at the largest K.
The lowest error wins; the default is always a candidate, so the search never returns anything worse
by its own measure than the default configuration of the same size.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch

from ..compression import CompressionConfig, decompress
from ..compression.api import compress
from ..compression.compressed import CompressedKAN
from ..compression.methods import GPTQConfig, KMeansConfig, UniformConfig
from ..compression.quantize import quantize
from ..errors import SharekanError
from ..format import storage_report
from ..format.accounting import kmeans_bytes, sharekan_bytes
from ..format.compressed_file import encode_compressed
from ..model import KAN
from ..progress import Progress
from ..ranges import MAX_CODEBOOK

SAMPLED_INPUTS = 2048
HEADER_SLACK = 512  # header JSON varies a little with the configuration (numbers, names)
COMPONENTS = ("gain_bits", "bias_bits", "base_bits", "codebook_bits")


@dataclass(frozen=True)
class Candidate:
    """One configuration tried: its method, whether it used calibration, bytes and output error."""

    method: str
    config: dict
    calibrated: bool
    stored_bytes: int
    file_bytes: int
    output_error: float


@dataclass(frozen=True)
class BudgetResult:
    """The chosen compressed model, the default configuration's result and every candidate tried."""

    compressed: CompressedKAN
    best: Candidate
    default: Candidate
    candidates: list[Candidate]
    max_bytes: int

    def report(self) -> dict:
        """JSON-ready: budget, the chosen configuration, the default of the same size, all candidates."""
        return {"max_bytes": self.max_bytes, "chosen": asdict(self.best), "default": asdict(self.default),
                "candidates": [asdict(c) for c in self.candidates],
                "objective": "relative output error on the calibration inputs (or inputs sampled inside the grid)"}


def largest_fitting_k(model: KAN, config: CompressionConfig | KMeansConfig, max_bytes: int) -> int | None:
    """The largest power-of-two K (capped at the largest layer's edges) whose file fits, or None."""
    sizing = sharekan_bytes if isinstance(config, CompressionConfig) else kmeans_bytes
    cap = min(MAX_CODEBOOK, max(layer.in_features * layer.out_features for layer in model.layers))
    sizes = sorted({2 ** p for p in range(1, 17) if 2 ** p <= cap} | {cap}, reverse=True)
    return next((k for k in sizes if sizing(model, replace(config, codebook_size=k)) <= max_bytes), None)


def grid_inputs(model: KAN, count: int = SAMPLED_INPUTS, seed: int = 0) -> np.ndarray:
    """Inputs drawn uniformly inside each first-layer input's grid range: (count, in_features) float32."""
    layer = model.layers[0]
    knots = layer.grid.detach().numpy()
    low, high = knots[:, layer.spline_order], knots[:, -layer.spline_order - 1]
    rng = np.random.default_rng(seed)
    return (low + (high - low) * rng.random((count, layer.in_features))).astype(np.float32)


def output_error(model: KAN, candidate: KAN, inputs: np.ndarray) -> float:
    """Relative output error ||f(x) - g(x)||^2 / ||f(x)||^2 summed over ``inputs``."""
    x = torch.from_numpy(inputs)
    with torch.no_grad():
        reference, approximate = model.eval()(x), candidate.eval()(x)
    return float(((reference - approximate) ** 2).sum() / (reference ** 2).sum().clamp_min(1e-30))


def component_sensitivity(model: KAN, inputs: np.ndarray, base: CompressionConfig) -> dict[str, float]:
    """Output error when one component alone drops from Int8 to Int4 at the base configuration's K.

    Measured on one compression at ``base`` by requantizing that component, so it costs one clustering.
    """
    compressed = compress(model, base)
    errors = {}
    for name, field in (("gain_bits", "gains"), ("bias_bits", "biases"), ("base_bits", "base_weights")):
        layers = [replace(layer, **{field: quantize(getattr(layer, field).dequantize(), 4, field)})
                  for layer in compressed.layers]
        errors[name] = output_error(model, decompress(replace(compressed, layers=layers)), inputs)
    codebooks = [quantize(c.dequantize(), 4, "codebook", grouping="columns") for c in compressed.codebooks]
    errors["codebook_bits"] = output_error(model, decompress(replace(compressed, codebooks=codebooks)), inputs)
    return errors


def layer_sensitivity(model: KAN, inputs: np.ndarray, base: CompressionConfig) -> list[float]:
    """Output error when one layer alone (its codebook, gains, biases and base weights) drops to Int4.

    Measured on one compression at ``base`` (scope 'layer') by requantizing that layer's tensors.
    """
    compressed = compress(model, base)
    errors = []
    for index, layer in enumerate(compressed.layers):
        lowered = replace(layer, **{field: quantize(getattr(layer, field).dequantize(), 4, field)
                                    for field in ("gains", "biases", "base_weights")})
        layers = [lowered if i == index else other for i, other in enumerate(compressed.layers)]
        codebooks = [quantize(c.dequantize(), 4, "codebook", grouping="columns") if i == layer.codebook_id else c
                     for i, c in enumerate(compressed.codebooks)]
        errors.append(output_error(model, decompress(replace(compressed, layers=layers, codebooks=codebooks)), inputs))
    return errors


def search_budget(model: KAN, max_bytes: int, calibration: np.ndarray | None = None, seed: int = 0,
                  progress: Progress | None = None, metadata: dict | None = None) -> BudgetResult:
    """The configuration with the lowest output error whose file (header and ``metadata`` included) fits."""
    report = progress or (lambda fraction, message: None)
    inputs = calibration if calibration is not None else grid_inputs(model, seed=seed)
    payload_budget = max_bytes - header_allowance(model, metadata)
    default_config = (_fitting(model, CompressionConfig(bits=8, seed=seed), payload_budget)
                      or _fitting(model, CompressionConfig(bits=4, seed=seed), payload_budget))
    if default_config is None:
        smallest = sharekan_bytes(model, CompressionConfig(codebook_size=2, bits=4)) + max_bytes - payload_budget
        raise SharekanError(f"--max-bytes {max_bytes:,} is below the smallest SHARe-KAN file of this model "
                            f"(about {smallest:,} bytes with its header at K = 2, Int4)")
    plans: list[tuple[Any, bool]] = [(default_config, False)]
    report(0.05, "measuring each component's sensitivity to Int4")
    sensitivity = component_sensitivity(model, inputs, default_config)
    lowered = CompressionConfig(bits=8, seed=seed)
    for name in sorted(COMPONENTS, key=sensitivity.get):
        lowered = replace(lowered, **{name: 4})
        fitted = _fitting(model, lowered, payload_budget)
        if fitted is not None:
            plans.append((fitted, False))
    if len(model.layers) > 1:
        report(0.08, "measuring each layer's sensitivity to Int4")
        per_layer = layer_sensitivity(model, inputs, default_config)
        widths = [8] * len(model.layers)
        for index in sorted(range(len(model.layers)), key=per_layer.__getitem__)[:-1]:  # all-Int4 is on the other path
            widths[index] = 4
            fitted = _fitting(model, CompressionConfig(bits=8, seed=seed, layer_bits=tuple(widths)), payload_budget)
            if fitted is not None:
                plans.append((fitted, False))
    if calibration is not None:
        plans += [(config, True) for config, _ in list(plans)]
    plans += [(config, calibration is not None) for config in _baselines(model, max_bytes, payload_budget, seed, metadata)]
    plans = list(dict.fromkeys(plans))
    tried: list[tuple[Candidate, CompressedKAN]] = []
    for done, (config, calibrated) in enumerate(plans):
        report(0.1 + 0.9 * done / len(plans), f"{config.method} {_fields(config)}")
        while True:  # the header grows a little with K: halve K until the whole file fits
            compressed = compress(model, config, calibration if calibrated else _gptq_inputs(config, inputs),
                                  metadata=metadata)
            stored, size = storage_report(model, compressed).compressed_bytes, len(encode_compressed(compressed))
            if size <= max_bytes or getattr(config, "codebook_size", 2) <= 2:
                break
            config = replace(config, codebook_size=config.codebook_size // 2)
        if size > max_bytes:
            if done == 0:
                raise SharekanError(f"--max-bytes {max_bytes:,} is below the smallest SHARe-KAN file of this model")
            continue
        error = output_error(model, decompress(compressed), inputs)
        tried.append((Candidate(config.method, _fields(config), calibrated, stored, size, error), compressed))
    best, compressed = min(tried, key=lambda pair: (pair[0].output_error, pair[0].stored_bytes))
    default = tried[0][0]
    report(1.0, "done")
    return BudgetResult(compressed, best, default, [c for c, _ in tried], int(max_bytes))


def _fitting(model: KAN, config: CompressionConfig, max_bytes: int) -> CompressionConfig | None:
    k = largest_fitting_k(model, config, max_bytes)
    return None if k is None else replace(config, codebook_size=k)


def _baselines(model: KAN, max_bytes: int, payload_budget: int, seed: int, metadata: dict | None) -> list[Any]:
    """Uniform and GPTQ at the most bits that fit (per output channel), k-means at the largest K at Int8."""
    configs: list[Any] = []
    for bits in range(8, 1, -1):
        if len(encode_compressed(compress(model, UniformConfig(bits=bits), metadata=metadata))) <= max_bytes:
            configs += [UniformConfig(bits=bits), GPTQConfig(bits=bits)]
            break
    k = largest_fitting_k(model, KMeansConfig(bits=8, seed=seed), payload_budget)
    return configs + ([KMeansConfig(codebook_size=k, bits=8, seed=seed)] if k is not None else [])


def header_allowance(model: KAN, metadata: dict | None = None) -> int:
    """Bytes a file needs beyond its stored tensors: the header of a small SHARe-KAN file plus slack."""
    compressed = compress(model, CompressionConfig(codebook_size=2, bits=4, gain_bits=32, bias_bits=32, base_bits=32),
                          metadata=metadata)
    return len(encode_compressed(compressed)) - storage_report(model, compressed).compressed_bytes + HEADER_SLACK


def _gptq_inputs(config: Any, inputs: np.ndarray) -> np.ndarray | None:
    """GPTQ always needs inputs: the sampled ones stand in when no calibration was given."""
    return inputs if isinstance(config, GPTQConfig) else None


def _fields(config: Any) -> dict:
    return {key: value for key, value in asdict(config).items() if value is not None}


def smallest_within_points(rows: Sequence[dict], points: float) -> dict | None:
    """From a sweep summary: the smallest configuration whose mean metric is within ``points`` (x100) of dense."""
    dense = next((r for r in rows if r["method"] == "dense"), None)
    if dense is None:
        raise SharekanError("the sweep has no dense row to measure points against")
    floor = dense["metric_mean"] - points / 100.0
    fitting = [r for r in rows if r["method"] != "dense" and r["metric_mean"] >= floor]
    return min(fitting, key=lambda r: (r["stored_bytes"], -r["metric_mean"]), default=None)


def best_within_bytes(rows: Sequence[dict], max_bytes: int) -> dict | None:
    """From a sweep summary: the configuration with the best mean metric stored in at most ``max_bytes``."""
    fitting = [r for r in rows if r["method"] != "dense" and r["stored_bytes"] <= max_bytes]
    return max(fitting, key=lambda r: (r["metric_mean"], -r["stored_bytes"]), default=None)
