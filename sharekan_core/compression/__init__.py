"""Compression of trained KANs: SHARe-KAN (gain-shape-bias -> codebook -> quantize -> pack) and the
baseline methods, each chosen by its config type (``compress``). Each SHARe-KAN stage is callable alone
(``compressor``); ``compress_sharekan`` runs them all."""
from .api import compress
from .codebook import ShapeCodebook
from .compressed import CompressedKAN, CompressedLayer, decompress
from .compressor import compress_sharekan, compress_with_codebooks, effective_coefficients
from .config import SUPPORTED_BITS, CompressionConfig
from .decompose import GainShapeBias, decompose, recompose, refit_gains
from .methods import METHOD_CONFIGS, GPTQConfig, KMeansConfig, MethodConfig, PruneConfig, UniformConfig
from .packing import index_bits, pack_bits, unpack_bits
from .pruning import PrunedKAN, prune_by_magnitude
from .quantize import QuantizedTensor, quantize

__all__ = ["METHOD_CONFIGS", "SUPPORTED_BITS", "CompressedKAN", "CompressedLayer", "CompressionConfig",
           "GPTQConfig", "GainShapeBias", "KMeansConfig", "MethodConfig", "PruneConfig", "PrunedKAN",
           "QuantizedTensor", "ShapeCodebook", "UniformConfig", "compress", "compress_sharekan",
           "compress_with_codebooks", "decompose", "decompress", "effective_coefficients", "index_bits", "pack_bits",
           "prune_by_magnitude", "quantize", "recompose", "refit_gains", "unpack_bits"]
