"""Compression of trained KANs: SHARe-KAN (gain-shape-bias -> codebook -> quantize -> pack) and the
baseline methods, each chosen by its config type (``compress``, through ``registry``). Each SHARe-KAN
stage is callable alone (``compressor``); ``compress_sharekan`` runs them all.

Names are resolved on first use (PEP 562), so the configs and the registry can be read without torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> the submodule that defines it
_EXPORTS = {
    "compress": "api",
    "ShapeCodebook": "codebook",
    "CompressedKAN": "compressed", "CompressedLayer": "compressed", "decompress": "compressed",
    "compress_sharekan": "compressor", "compress_with_codebooks": "compressor", "effective_coefficients": "compressor",
    "SUPPORTED_BITS": "config", "CompressionConfig": "config",
    "GainShapeBias": "decompose", "decompose": "decompose", "recompose": "decompose", "refit_gains": "decompose",
    "GPTQConfig": "method_configs", "KMeansConfig": "method_configs", "PruneConfig": "method_configs",
    "UniformConfig": "method_configs",
    "METHOD_CONFIGS": "methods",
    "MethodConfig": "registry", "register_config": "registry", "register_handler": "registry",
    "method_configs": "registry",
    "index_bits": "packing", "pack_bits": "packing", "unpack_bits": "packing",
    "PrunedKAN": "pruning", "prune_by_magnitude": "pruning",
    "QuantizedTensor": "quantize", "quantize": "quantize",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .api import compress
    from .codebook import ShapeCodebook
    from .compressed import CompressedKAN, CompressedLayer, decompress
    from .compressor import compress_sharekan, compress_with_codebooks, effective_coefficients
    from .config import SUPPORTED_BITS, CompressionConfig
    from .decompose import GainShapeBias, decompose, recompose, refit_gains
    from .method_configs import GPTQConfig, KMeansConfig, PruneConfig, UniformConfig
    from .methods import METHOD_CONFIGS
    from .packing import index_bits, pack_bits, unpack_bits
    from .pruning import PrunedKAN, prune_by_magnitude
    from .quantize import QuantizedTensor, quantize
    from .registry import MethodConfig, method_configs, register_config, register_handler

# These functions share their submodule's name; importing the submodule sets the package's attribute to the
# module, so they are bound here, after their own import (numpy only), where no later import rebinds them.
from .decompose import decompose  # noqa: E402
from .quantize import quantize  # noqa: E402


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
