"""Allowed values of the user-facing parameters and the one integer check, shared by the configs
and the command line (this module imports nothing heavy, so ``--help`` can read it)."""
from __future__ import annotations

from numbers import Integral

from .errors import SharekanError

# Bit-widths, the one table. FLOAT_BITS are stored as float32 / float16; below them, integer codes with one
# affine pair per group, packed.
FLOAT_BITS = (32, 16)
CONFIG_BITS = (*FLOAT_BITS, 8, 4)  # what SHARe-KAN, k-means and pruning configs (and the CLI, the studio) offer
MIN_UNIFORM_BITS, MAX_UNIFORM_BITS = 2, 8
UNIFORM_BITS = tuple(range(MIN_UNIFORM_BITS, MAX_UNIFORM_BITS + 1))  # uniform rounding and GPTQ: 2..8
FILE_BITS = tuple(sorted({*UNIFORM_BITS, *CONFIG_BITS}))  # every width a compressed file may store: 2..8, 16, 32
SUPPORTED_BITS = CONFIG_BITS  # the configs' earlier name for CONFIG_BITS
MIN_CODEBOOK, MAX_CODEBOOK = 2, 65_536
MAX_SEED = 2**31 - 1
# The base branch's activations a KAN can use (model.kan.BASE_ACTIVATIONS holds each one's function), and
# pykan's base_fun='zero', which the importer reads as zero base weights.
BASE_ACTIVATION_NAMES = ("silu", "gelu", "gelu_tanh", "identity", "relu", "leaky_relu", "elu", "selu", "celu",
                         "softplus", "mish", "hardswish", "tanh", "sigmoid")
ZERO_BASE = "zero"


def check_int(name: str, value: object, low: int, high: int) -> None:
    """Raise SharekanError unless ``value`` is an integer (Python or numpy, not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise SharekanError(f"{name} must be an integer from {low:,} to {high:,}, got {value!r}")
