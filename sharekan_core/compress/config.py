"""CompressionConfig: the validated knobs of one SHARe-KAN compression run."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SharekanError

SUPPORTED_BITS = (32, 16, 8, 4)
MIN_CODEBOOK, MAX_CODEBOOK = 2, 65_536
SCOPES = ("layer", "global")


@dataclass(frozen=True)
class CompressionConfig:
    """Codebook size K, bit-widths per component, codebook scope and seed.

    ``bits`` sets every component; ``codebook_bits``, ``gain_bits``, ``bias_bits`` and
    ``base_bits`` override it one by one. ``weighted`` clusters shapes weighted by gain**2,
    which minimises coefficient-space error; ``refit_gain`` replaces each gain by its
    least-squares value against the chosen codeword.
    """

    codebook_size: int = 4096
    bits: int = 8
    codebook_bits: int | None = None
    gain_bits: int | None = None
    bias_bits: int | None = None
    base_bits: int | None = None
    scope: str = "layer"
    seed: int = 0
    weighted: bool = True
    refit_gain: bool = True

    def __post_init__(self) -> None:
        _check_int("codebook_size", self.codebook_size, MIN_CODEBOOK, MAX_CODEBOOK)
        for name in ("bits", "codebook_bits", "gain_bits", "bias_bits", "base_bits"):
            value = getattr(self, name)
            if value is None and name != "bits":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value not in SUPPORTED_BITS:
                raise SharekanError(f"{name} must be one of {', '.join(map(str, SUPPORTED_BITS))}, got {value!r}")
        if self.scope not in SCOPES:
            raise SharekanError(f"scope must be 'layer' or 'global', got {self.scope!r}")
        _check_int("seed", self.seed, 0, 2**31 - 1)

    def component_bits(self) -> dict[str, int]:
        """Return the effective bit-width of each quantized component."""
        return {
            "codebook": self.codebook_bits or self.bits,
            "gains": self.gain_bits or self.bits,
            "biases": self.bias_bits or self.bits,
            "base_weights": self.base_bits or self.bits,
        }


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SharekanError(f"{name} must be an integer from {low:,} to {high:,}, got {value!r}")
