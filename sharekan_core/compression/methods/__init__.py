"""Compression methods as configurations: the config's type picks the algorithm (see ``compression.api``)."""
from __future__ import annotations

from ..config import CompressionConfig
from .gptq import GPTQConfig
from .kmeans import KMeansConfig
from .prune import PruneConfig
from .uniform import UniformConfig

# method name (stored in the file header) -> its config class
METHOD_CONFIGS = {config.method: config for config in
                  (CompressionConfig, UniformConfig, GPTQConfig, KMeansConfig, PruneConfig)}
MethodConfig = CompressionConfig | UniformConfig | GPTQConfig | KMeansConfig | PruneConfig

__all__ = ["METHOD_CONFIGS", "CompressionConfig", "GPTQConfig", "KMeansConfig", "MethodConfig", "PruneConfig",
           "UniformConfig"]
