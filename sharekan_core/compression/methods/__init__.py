"""The built-in handlers: importing this package registers each method's handler (see ``registry``)."""
from __future__ import annotations

from ..config import CompressionConfig
from ..method_configs import GPTQConfig, KMeansConfig, PruneConfig, UniformConfig
from ..registry import MethodConfig, method_configs
from . import gptq, kmeans, prune, uniform  # noqa: F401 (registers the handlers)

METHOD_CONFIGS = method_configs()  # method name (stored in the file header) -> its config class; the live registry

__all__ = ["METHOD_CONFIGS", "CompressionConfig", "GPTQConfig", "KMeansConfig", "MethodConfig", "PruneConfig",
           "UniformConfig"]
