"""SHARe-KAN Studio's library: compress pre-trained KANs after training.

The public API, in the order a script uses it::

    import sharekan_core as sk

    model = sk.load_model("sample_models/digits_kan.safetensors")
    compressed = sk.compress(model, sk.CompressionConfig(codebook_size=256, bits=8))
    sk.save_compressed(compressed, "digits.skan")
    rebuilt = sk.decompress(sk.load_compressed("digits.skan"))
    head = sk.CompressedDomainKAN(sk.load_compressed("digits.skan"))  # runs from the codes, never decompressed
    outputs = head(inputs)                                              # (B, 64) float32 -> (B, 10)
    sk.compress_(net, sk.CompressionConfig(codebook_size=64),           # a KAN head inside any torch module,
                 calibration=sk.calibration_from(net, images))          # swapped in place for its compressed module
    safetensors.torch.save_file(sk.compressed_state_dict(net), "net.safetensors")
    sk.load_compressed_into(MyNet(), "net.safetensors")                 # restored into a fresh copy of the model

Names are resolved on first use (PEP 562), so ``import sharekan_core`` and the command line's
``--help`` do not pay for importing torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS = {
    "load_model": "sharekan_core.io.model_file",
    "save_model": "sharekan_core.io.model_file",
    "KAN": "sharekan_core.model.kan",
    "KANConfig": "sharekan_core.model.kan",
    "CompressionConfig": "sharekan_core.compression.config",
    "UniformConfig": "sharekan_core.compression.method_configs",
    "GPTQConfig": "sharekan_core.compression.method_configs",
    "KMeansConfig": "sharekan_core.compression.method_configs",
    "PruneConfig": "sharekan_core.compression.method_configs",
    "CompressedKAN": "sharekan_core.compression.compressed",
    "compress": "sharekan_core.compression.api",
    "decompress": "sharekan_core.compression.compressed",
    "save_compressed": "sharekan_core.format.compressed_file",
    "load_compressed": "sharekan_core.format.compressed_file",
    "load_basis_kan": "sharekan_core.format.basis_net_file",
    "BasisKAN": "sharekan_core.model.basis_kan",
    "CompressedBasisKAN": "sharekan_core.compression.basis_net",
    "CompressedDomainKAN": "sharekan_core.runtime.compressed_kan",
    "load_runnable": "sharekan_core.runtime.loading",
    "compress_": "sharekan_core.runtime.in_place",
    "calibration_from": "sharekan_core.runtime.in_place",
    "compressed_state_dict": "sharekan_core.runtime.compressed_module",
    "load_compressed_into": "sharekan_core.runtime.compressed_module",
    "decompressed_state_dict": "sharekan_core.runtime.decompressed_module",
    "SharekanError": "sharekan_core.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # static analysers see the real objects
    from .compression.api import compress
    from .compression.compressed import CompressedKAN, decompress
    from .compression.config import CompressionConfig
    from .compression.method_configs import GPTQConfig, KMeansConfig, PruneConfig, UniformConfig
    from .errors import SharekanError
    from .format.compressed_file import load_compressed, save_compressed
    from .format.basis_net_file import load_basis_kan
    from .model.basis_kan import BasisKAN
    from .compression.basis_net import CompressedBasisKAN
    from .runtime.compressed_kan import CompressedDomainKAN
    from .runtime.compressed_module import compressed_state_dict, load_compressed_into
    from .runtime.decompressed_module import decompressed_state_dict
    from .runtime.in_place import calibration_from, compress_
    from .runtime.loading import load_runnable
    from .io.model_file import load_model, save_model
    from .model.kan import KAN, KANConfig


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sharekan_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
