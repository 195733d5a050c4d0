"""Allowed values of the user-facing parameters and the one integer check, shared by the configs
and the command line (this module imports nothing heavy, so ``--help`` can read it)."""
from __future__ import annotations

from numbers import Integral

from .errors import SharekanError

SUPPORTED_BITS = (32, 16, 8, 4)
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
