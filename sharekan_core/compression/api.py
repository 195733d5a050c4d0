"""``compress(model, config, calibration=None)``: the one entry point, dispatching on the config's type."""
from __future__ import annotations

import numpy as np

from ..errors import SharekanError
from ..model import KAN
from ..progress import Progress
from .compressed import CompressedKAN
from .compressor import compress_sharekan, require_silu_base
from .config import CompressionConfig
from .methods import GPTQConfig, KMeansConfig, MethodConfig, PruneConfig, UniformConfig
from .methods.gptq import compress_gptq
from .methods.kmeans import compress_kmeans
from .methods.prune import compress_pruned
from .methods.uniform import compress_uniform



def compress(model: KAN, config: MethodConfig | None = None, calibration: np.ndarray | None = None,
             *, progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN:
    """Compress ``model`` with the method named by ``config``'s type; return the compressed model.

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
    require_silu_base(model)
    if calibration is not None and isinstance(config, (CompressionConfig, GPTQConfig)):
        metadata = {**(metadata or {}), "calibration_rows": int(len(calibration))}  # the file says it is data-aware
    if isinstance(config, CompressionConfig):
        return compress_sharekan(model, config, calibration, progress=progress, metadata=metadata)
    if isinstance(config, GPTQConfig):
        return compress_gptq(model, config, calibration, progress, metadata)
    if isinstance(config, UniformConfig):
        return compress_uniform(model, config, metadata)
    if isinstance(config, KMeansConfig):
        return compress_kmeans(model, config, progress, metadata)
    if isinstance(config, PruneConfig):
        return compress_pruned(model, config, metadata)
    raise SharekanError(f"unknown compression config {type(config).__name__}")
