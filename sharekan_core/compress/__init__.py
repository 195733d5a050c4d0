"""SHARe-KAN compression: gain-shape-bias -> codebook -> quantize -> pack. Each stage is callable alone."""
from .compressed import CompressedKAN, CompressedLayer, decompress
from .compressor import compress, effective_coefficients
from .config import SUPPORTED_BITS, CompressionConfig
from .decompose import GainShapeBias, decompose, recompose, refit_gains
from .packing import index_bits, pack_bits, unpack_bits
from .pruning import PrunedKAN, prune_by_magnitude
from .quantize import QuantizedTensor, quantize

__all__ = ["SUPPORTED_BITS", "CompressedKAN", "CompressedLayer", "CompressionConfig", "GainShapeBias",
           "PrunedKAN", "QuantizedTensor", "compress", "decompose", "decompress", "effective_coefficients",
           "index_bits", "pack_bits", "prune_by_magnitude", "quantize", "recompose", "refit_gains", "unpack_bits"]
