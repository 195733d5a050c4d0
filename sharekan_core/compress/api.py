"""``compress(model, config, calibration=None)``: the one entry point, dispatching on the config's type."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import SharekanError
from ..model import KAN
from .compressed import CompressedKAN
from .compressor import compress as compress_sharekan
from .config import CompressionConfig

Progress = Callable[[float, str], None]


def compress(model: KAN, config: CompressionConfig | None = None, calibration: np.ndarray | None = None,
             *, progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Compress ``model`` with the method named by ``config``'s type; return the compressed model.

    ``calibration`` is an optional (N, in_features) sample of model inputs for data-aware methods.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.CompressionConfig(codebook_size=256, bits=8))
        >>> compressed.num_edges
        2368
    """
    config = CompressionConfig() if config is None else config
    if isinstance(config, CompressionConfig):
        if calibration is not None:
            raise SharekanError("data-aware SHARe-KAN is not available in this version; omit calibration")
        return compress_sharekan(model, config, progress=progress, metadata=metadata)
    raise SharekanError(f"unknown compression config {type(config).__name__}")
