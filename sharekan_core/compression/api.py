"""``compress(model, config, calibration=None)``: the one entry point, calling the handler registered for the
config's type (``registry``)."""
from __future__ import annotations

import numpy as np

from ..model import KAN
from ..model.basis_kan import BasisKAN
from .basis_net import CompressedBasisKAN, compress_basis_kan
from ..progress import Progress
from .compressed import CompressedKAN
from .config import CompressionConfig
from .registry import MethodConfig, handler_for


def compress(model: KAN | BasisKAN, config: MethodConfig | None = None, calibration: np.ndarray | None = None,
             *, progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN | CompressedBasisKAN:
    """Compress ``model`` with the method named by ``config``'s type; return the compressed model.

    A FastKAN, ChebyKAN or Gram net (a ``BasisKAN`` from ``load_model``) is compressed with SHARe-KAN layer by
    layer into a ``CompressedBasisKAN`` (``compression.basis_net``); the other methods are refused for it.

    ``calibration`` is an optional (N, in_features) sample of model inputs: SHARe-KAN then
    minimises function-space error on it, and GPTQ needs it; their metadata then records
    ``calibration_rows``. Uniform, k-means and pruning are data-blind and ignore it.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.CompressionConfig(codebook_size=256, bits=8))
        >>> compressed.num_edges
        2368
    """
    config = CompressionConfig() if config is None else config
    if isinstance(model, BasisKAN):
        return compress_basis_kan(model, config, calibration, metadata)
    handler = handler_for(config)
    if calibration is not None and config.uses_calibration:
        metadata = {**(metadata or {}), "calibration_rows": int(len(calibration))}  # the file says it is data-aware
    return handler(model, config, calibration=calibration, progress=progress, metadata=metadata)
