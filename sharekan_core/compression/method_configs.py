"""The baseline methods' configs: uniform, GPTQ, k-means and pruning (SHARe-KAN's is ``config.CompressionConfig``).

Each is a small frozen dataclass that validates its fields and registers itself (``registry``); its
handler lives in ``methods/``. Kept apart from the handlers so that reading them imports no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import SharekanError
from ..ranges import (CONFIG_BITS, MAX_CODEBOOK, MAX_SEED, MAX_UNIFORM_BITS, MIN_CODEBOOK, MIN_UNIFORM_BITS,
                      UNIFORM_BITS, check_int)
from .config import KMEANS_METHODS, SCOPES
from .registry import check_choices, register_config

MAX_GROUP = 1 << 20


@register_config
@dataclass(frozen=True)
class UniformConfig:
    """Round-to-nearest at ``bits`` (2 to 8) per output channel, or per group of ``group_size`` edges.

    A group is ``group_size`` consecutive inputs of one output (group_size * D coefficients); it
    must divide every layer's in_features.

    ``base_bits`` (default: ``bits``) quantizes the base weights, one affine pair per output row.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.UniformConfig(bits=4, group_size=64))
        >>> compressed.method
        'uniform'
    """

    method: ClassVar[str] = "uniform"
    choices: ClassVar[dict[str, tuple]] = {"bits": UNIFORM_BITS, "base_bits": UNIFORM_BITS}

    bits: int = 4
    group_size: int | None = None
    base_bits: int | None = None

    def __post_init__(self) -> None:
        check_uniform_fields(self.bits, self.group_size, self.base_bits)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike)."""
        return per_edge_bits(self.bits, self.base_bits)


def per_edge_bits(bits: int, base_bits: int | None) -> dict[str, int]:
    """Widths of the components UniformConfig and GPTQConfig store: coefficients, then base weights."""
    return {"coefficients": bits, "base_weights": base_bits or bits}


def check_uniform_fields(bits: int, group_size: int | None, base_bits: int | None) -> None:
    """Validate the fields UniformConfig and GPTQConfig share."""
    check_int("bits", bits, MIN_UNIFORM_BITS, MAX_UNIFORM_BITS)
    if base_bits is not None:
        check_int("base_bits", base_bits, MIN_UNIFORM_BITS, MAX_UNIFORM_BITS)
    if group_size is not None:
        check_int("group_size", group_size, 1, MAX_GROUP)


@register_config
@dataclass(frozen=True)
class GPTQConfig:
    """GPTQ at ``bits`` (2 to 8) with the same layout as UniformConfig; needs calibration inputs.

    ``damping`` adds that fraction of H's mean diagonal to its diagonal before inverting.

    Example::

        >>> import numpy as np, sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> sample = np.random.default_rng(0).uniform(-1, 1, (256, 64)).astype(np.float32)
        >>> compressed = sk.compress(model, sk.GPTQConfig(bits=3), calibration=sample)
        >>> compressed.method
        'gptq'
    """

    method: ClassVar[str] = "gptq"
    choices: ClassVar[dict[str, tuple]] = {"bits": UNIFORM_BITS, "base_bits": UNIFORM_BITS}
    uses_calibration: ClassVar[bool] = True

    bits: int = 4
    group_size: int | None = None
    base_bits: int | None = None
    damping: float = 0.01

    def __post_init__(self) -> None:
        check_uniform_fields(self.bits, self.group_size, self.base_bits)
        if isinstance(self.damping, bool) or not isinstance(self.damping, (int, float)) or not 0 < self.damping <= 1:
            raise SharekanError(f"damping must be a number in (0, 1], got {self.damping!r}")

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike)."""
        return per_edge_bits(self.bits, self.base_bits)


@register_config
@dataclass(frozen=True)
class KMeansConfig:
    """k-means of raw coefficient vectors into ``codebook_size`` codewords per layer (or one for all layers).

    ``bits`` (32, 16, 8 or 4) quantizes the codebook (one affine pair per coefficient column) and the
    base weights (one pair per output row).

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.KMeansConfig(codebook_size=256, bits=8))
        >>> compressed.method
        'kmeans'
    """

    method: ClassVar[str] = "kmeans"
    choices: ClassVar[dict[str, tuple]] = {"bits": CONFIG_BITS, "scope": SCOPES, "kmeans_method": KMEANS_METHODS}

    codebook_size: int = 4096
    bits: int = 8
    scope: str = "layer"
    seed: int = 0
    kmeans_method: str = "auto"

    def __post_init__(self) -> None:
        check_int("codebook_size", self.codebook_size, MIN_CODEBOOK, MAX_CODEBOOK)
        check_choices(self)
        check_int("seed", self.seed, 0, MAX_SEED)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike): the codebook and the base weights."""
        return {"codebook": self.bits, "base_weights": self.bits}


@register_config
@dataclass(frozen=True)
class PruneConfig:
    """Drop the ``sparsity`` fraction of edges with the smallest spline norm, per layer.

    Kept coefficients and base weights are stored at ``bits`` (32 keeps float32), with a 1-bit kept-edge mask.

    Example::

        >>> import sharekan_core as sk
        >>> model = sk.load_model("sample_models/digits_kan.safetensors")
        >>> compressed = sk.compress(model, sk.PruneConfig(sparsity=0.75))
        >>> compressed.method
        'prune'
    """

    method: ClassVar[str] = "prune"
    choices: ClassVar[dict[str, tuple]] = {"bits": CONFIG_BITS}

    sparsity: float = 0.5
    bits: int = 32

    def __post_init__(self) -> None:
        if isinstance(self.sparsity, bool) or not isinstance(self.sparsity, (int, float)) or not 0 <= self.sparsity < 1:
            raise SharekanError(f"sparsity must be a number in [0, 1), got {self.sparsity!r}")
        check_choices(self)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The bit-width of each stored component (every layer alike): kept coefficients and base weights."""
        return {"coefficients": self.bits, "base_weights": self.bits}
