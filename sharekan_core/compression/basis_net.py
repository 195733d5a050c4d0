"""SHARe-KAN on a whole FastKAN, ChebyKAN or Gram net read from a file (a ``BasisKAN``): each layer compressed with
``compress_basis_layer``, its calibration inputs the dense net's own activations before it."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..errors import SharekanError
from ..model.basis_kan import BasisKAN
from .basis_compressor import CompressedBasisLayer, checked_calibration, compress_basis_layer, decompress_basis_layer
from .config import CompressionConfig


@dataclass
class CompressedBasisKAN:
    """A compressed global-basis net: its layers in order, the family, free-form metadata (source file, prefix), the
    LayerNorms between layers kept dense (None where nothing sits between) and the layers' source positions."""

    layers: list[CompressedBasisLayer]
    family: str
    metadata: dict = field(default_factory=dict)
    between: list[nn.LayerNorm | None] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.between = self.between or [None] * (len(self.layers) - 1)
        self.positions = self.positions or list(range(len(self.layers)))

    @property
    def nbytes(self) -> int:
        """Stored bytes of every layer (``CompressedBasisLayer.nbytes``) and of the norms between them."""
        norms = sum(t.numel() * t.element_size() for norm in self.between if norm is not None
                    for t in norm.state_dict().values())
        return sum(layer.nbytes for layer in self.layers) + norms

    @property
    def num_edges(self) -> int:
        """Edges over all layers."""
        return sum(layer.indices.size for layer in self.layers)

    @property
    def in_features(self) -> int:
        """Inputs of the first layer."""
        return int(self.layers[0].indices.shape[1])

    @property
    def out_features(self) -> int:
        """Outputs of the last layer."""
        return int(self.layers[-1].indices.shape[0])


def compress_basis_kan(net: BasisKAN, config: CompressionConfig, calibration: np.ndarray | None = None,
                       metadata: dict | None = None) -> CompressedBasisKAN:
    """``net`` compressed layer by layer with ``config``; ``calibration`` (N, in) inputs of the net give every layer
    its own inputs (the dense layers before it run on them), so each is data-aware."""
    if not isinstance(config, CompressionConfig):
        raise SharekanError(f"{type(config).__name__} is not available for {net.family} nets; use "
                            "sk.CompressionConfig (SHARe-KAN)")
    if config.scope != "layer":
        raise SharekanError(f"scope {config.scope!r}: a {net.family} net's layers each keep their own codebook; "
                            "use scope 'layer'")
    config.check_layers(len(net.layers))
    inputs: list[np.ndarray | None] = [None] * len(net.layers)
    if calibration is not None:
        values = checked_calibration(calibration, net.layers[0].in_features)
        with torch.no_grad():
            inputs = [x.numpy() for x in net.layer_inputs(torch.from_numpy(values))]
    layers = [compress_basis_layer(layer, _layer_config(config, index), inputs[index])
              for index, layer in enumerate(net.layers)]
    extra = {} if calibration is None else {"calibration_rows": int(len(calibration))}
    return CompressedBasisKAN(layers, net.family, {**(metadata or {}), **extra}, net.norms(), net.positions)


def _layer_config(config: CompressionConfig, index: int) -> CompressionConfig:
    """``config`` for layer ``index`` alone: its own entry of ``layer_bits``, if set."""
    return config if config.layer_bits is None else replace(config, layer_bits=(config.layer_bits[index],))


def decompress_basis_kan(compressed: CompressedBasisKAN) -> BasisKAN:
    """The dense net the codes decode to."""
    return BasisKAN([decompress_basis_layer(layer) for layer in compressed.layers], compressed.family,
                    compressed.between, compressed.positions)


def basis_kan_report(net: BasisKAN, compressed: CompressedBasisKAN) -> dict:
    """Storage and coefficient fidelity of ``compressed`` against the dense ``net``, overall and per layer
    (coef_rel_l2: ||decoded - original|| / ||original|| over the coefficients)."""
    layers, error, norm = [], 0.0, 0.0
    for layer, stored in zip(net.layers, compressed.layers):
        original = layer.spline_weight.detach().to(torch.float64).numpy()
        difference = float(np.sum((stored.coefficients().astype(np.float64) - original) ** 2))
        size = float(np.sum(original ** 2))
        error, norm = error + difference, norm + size
        layers.append({"in_features": layer.in_features, "out_features": layer.out_features,
                       "basis_functions": layer.num_coefficients, "codebook_size": int(stored.codebook.shape[0]),
                       "compressed_bytes": stored.nbytes, "coef_rel_l2": float(np.sqrt(difference / max(size, 1e-300)))})
    dense = net.nbytes
    return {"family": net.family, "edges": net.num_edges, "dense_bytes": dense, "compressed_bytes": compressed.nbytes,
            "ratio": dense / compressed.nbytes, "coef_rel_l2": float(np.sqrt(error / max(norm, 1e-300))),
            "layers": layers}
