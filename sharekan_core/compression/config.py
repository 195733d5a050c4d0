"""CompressionConfig: the validated knobs of one SHARe-KAN compression run."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import SharekanError
from ..ranges import CONFIG_BITS, MAX_CODEBOOK, MAX_SEED, MIN_CODEBOOK, SUPPORTED_BITS, check_int  # noqa: F401 (earlier home of these names)
from .registry import check_choices, register_config

SCOPES = ("layer", "global")
KMEANS_METHODS = ("auto", "two-level", "flat", "exact")  # the codebook builder's algorithms
MAX_DATA_AWARE_PASSES = 50


@register_config
@dataclass(frozen=True)
class CompressionConfig:
    """Codebook size K, bit-widths per component, codebook scope and seed.

    ``bits`` sets every component; ``layer_bits`` (one width per layer) replaces ``bits`` layer by
    layer, so each layer's codebook (scope 'layer'), gains, biases and base weights can differ
    (mixed precision); ``codebook_bits``, ``gain_bits``, ``bias_bits`` and ``base_bits`` then
    override a component in every layer. ``weighted`` clusters shapes weighted by gain**2,
    which minimises coefficient-space error; ``refit_gain`` replaces each gain by its
    least-squares value against the chosen codeword. ``kmeans_method`` and ``spherical`` pick the
    codebook builder's algorithm (see ``compression.codebook``). With calibration data,
    ``data_aware_passes`` alternations of assignment, gain/bias refit and codeword update run
    under each input's basis second moment (see ``compression.data_aware``).

    Example::

        >>> import sharekan_core as sk
        >>> config = sk.CompressionConfig(codebook_size=256, bits=8)
        >>> compressed = sk.compress(sk.load_model("sample_models/digits_kan.safetensors"), config)
        >>> compressed.method
        'sharekan'
    """

    method: ClassVar[str] = "sharekan"
    choices: ClassVar[dict[str, tuple]] = {
        **{name: CONFIG_BITS for name in ("bits", "codebook_bits", "gain_bits", "bias_bits", "base_bits", "layer_bits")},
        "scope": SCOPES, "kmeans_method": KMEANS_METHODS}
    uses_calibration: ClassVar[bool] = True

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
    kmeans_method: str = "auto"
    spherical: bool = False
    data_aware_passes: int = 4
    layer_bits: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.layer_bits, list):  # read back from a file's JSON header
            object.__setattr__(self, "layer_bits", tuple(self.layer_bits))
        if self.layer_bits is not None:
            if not isinstance(self.layer_bits, tuple) or not self.layer_bits:
                raise SharekanError(f"layer_bits must be a non-empty sequence of bit-widths, got {self.layer_bits!r}")
        check_int("codebook_size", self.codebook_size, MIN_CODEBOOK, MAX_CODEBOOK)
        check_int("data_aware_passes", self.data_aware_passes, 0, MAX_DATA_AWARE_PASSES)
        check_choices(self)
        check_int("seed", self.seed, 0, MAX_SEED)

    def component_bits(self, layer: int | None = None) -> dict[str, int]:
        """The effective bit-width of each quantized component, in ``layer`` (None: the model-wide
        setting, which a scope-'global' codebook uses)."""
        bits = self.bits if layer is None or self.layer_bits is None else self.layer_bits[layer]
        return {
            "codebook": self.codebook_bits or bits,
            "gains": self.gain_bits or bits,
            "biases": self.bias_bits or bits,
            "base_weights": self.base_bits or bits,
        }

    def check_layers(self, layers: int) -> None:
        """Raise SharekanError unless ``layer_bits`` (if set) has one width per layer of the model."""
        if self.layer_bits is not None and len(self.layer_bits) != layers:
            raise SharekanError(f"layer_bits has {len(self.layer_bits)} width(s), the model has {layers} layer(s)")
