"""compress_'s part for global-basis KAN layers (FastKAN, ChebyKAN): find them in a module by the tensor only each
family has, import each live layer (reading what its state dict does not hold, the RBF width, the LayerNorm's eps
and the base activation, from the layer itself, never guessed), and build its compressed-domain module."""
from __future__ import annotations

import numpy as np
from torch import nn

from ..compression.basis_compressor import CompressedBasisLayer, compress_basis_layer
from ..errors import SharekanError
from ..io.chebykan import CHEBYKAN, chebykan_layer
from ..io.fastkan import FASTKAN, fastkan_layer
from ..model.basis_kan import BasisKANLayer
from ..model.kan import BASE_ACTIVATIONS
from .compressed_basis import CompressedBasisHead

MARKERS = {"rbf.grid": FASTKAN, "cheby_coeffs": CHEBYKAN}  # the tensor that tells each family's layer
_FUNCTION_NAMES = {id(function): name for name, function in BASE_ACTIVATIONS.items()}


def basis_layer_names(module: nn.Module) -> dict[str, str]:
    """Each FastKAN or ChebyKAN layer inside ``module``: its dotted name -> family."""
    found = {}
    for key in module.state_dict():
        for marker, family in MARKERS.items():
            if key == marker or key.endswith("." + marker):
                name = key[:-len(marker)].rstrip(".")
                if not name:
                    raise SharekanError(f"the module itself is a {family} layer, which cannot be swapped in place; "
                                        "call compress_ on a module that holds it")
                found[name] = family
    return found


def under_basis_layers(key: str, names: dict[str, str]) -> bool:
    """Whether state-dict ``key`` belongs to one of the layers ``names``."""
    return any(key.startswith(name + ".") for name in names)


def live_basis_layer(layer: nn.Module, name: str, family: str) -> BasisKANLayer:
    """The live ``layer`` of ``family`` imported as a BasisKANLayer, with what its tensors do not record read off it."""
    tensors = layer.state_dict()
    if family == CHEBYKAN:
        return chebykan_layer(tensors, name + ".", name)
    denominator = getattr(getattr(layer, "rbf", None), "denominator", None)
    if not isinstance(denominator, (int, float)) or not np.isfinite(denominator) or denominator <= 0:
        raise SharekanError(f"{name}: its rbf has no positive 'denominator' (the RBF width); it cannot be reproduced")
    norm = getattr(layer, "layernorm", None)
    if norm is not None and not (isinstance(norm, nn.LayerNorm) and norm.elementwise_affine
                                 and norm.normalized_shape == (norm.weight.shape[0],)):
        raise SharekanError(f"{name}: layernorm is {norm!r}, not a LayerNorm over the inputs this tool reproduces")
    activation = "silu"
    if "base_linear.weight" in tensors:
        function = getattr(layer, "base_activation", None)
        if id(function) not in _FUNCTION_NAMES:
            raise SharekanError(f"{name}: base activation {function!r} is not one this tool reproduces "
                                f"(torch functions: {', '.join(BASE_ACTIVATIONS)})")
        activation = _FUNCTION_NAMES[id(function)]
    return fastkan_layer(tensors, name + ".", name, float(denominator), activation,
                         norm.eps if norm is not None else 1e-5)


def compress_basis_layers(module: nn.Module, names: dict[str, str], config: object,
                          calibration: dict[str, np.ndarray]) -> dict[str, CompressedBasisLayer]:
    """Each layer ``names`` lists, compressed with ``config`` on its calibration inputs (if any), not yet swapped."""
    return {name: compress_basis_layer(live_basis_layer(module.get_submodule(name), name, family), config,
                                       calibration.get(name))
            for name, family in names.items()}


def basis_head(compressed: CompressedBasisLayer) -> nn.Module:
    """The compressed-domain module that takes the layer's place."""
    return CompressedBasisHead(compressed)
