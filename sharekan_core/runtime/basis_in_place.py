"""compress_'s part for global-basis KAN layers (FastKAN, ChebyKAN, torch-conv-kan's Gram/KAGN): find them in a
module by the tensor only each family has, import each live layer (reading what its state dict does not hold, the
RBF width, the LayerNorms' eps and the activations, from the layer itself, never guessed), and build its
compressed-domain module."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..compression.basis_compressor import CompressedBasisLayer, compress_basis_layer
from ..errors import SharekanError
from ..io.chebykan import CHEBYKAN, chebykan_layer
from ..io.fastkan import FASTKAN, fastkan_layer
from ..io.gram import GRAM, gram_layer
from ..io.kan_groups import BASIS_MARKERS
from ..model.basis_kan import BasisKANLayer
from .compressed_basis import CompressedBasisHead
from .probe_check import PROBE_ROWS, refuse_unless_reproduced, reproduced_activation



def basis_layer_names(module: nn.Module) -> dict[str, str]:
    """Each FastKAN, ChebyKAN or Gram layer inside ``module``: its dotted name -> family."""
    found = {}
    for key in module.state_dict():
        for marker, family in BASIS_MARKERS.items():
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
    """The live ``layer`` of ``family`` imported as a BasisKANLayer, with what its tensors do not record read off it,
    and held to the live layer's own forward on probe inputs (refused when it differs)."""
    imported = _imported_basis_layer(layer, name, family)
    weights = imported.spline_weight
    probe = 2 * torch.randn(PROBE_ROWS, imported.in_features, generator=torch.Generator().manual_seed(0))
    refuse_unless_reproduced(layer, imported, probe.to(weights.dtype).to(weights.device),
                             f"{name}: {type(layer).__name__} has {family}'s tensors, but its forward is not the one "
                             f"this tool reproduces for {family}; it cannot be compressed in place")
    return imported


def _imported_basis_layer(layer: nn.Module, name: str, family: str) -> BasisKANLayer:
    tensors = layer.state_dict()
    if family == CHEBYKAN:
        return chebykan_layer(tensors, name + ".", name)
    if family == GRAM:
        norm = checked_layer_norm(getattr(layer, "norm", None), name, "norm")
        return gram_layer(tensors, name + ".", name, reproduced_activation(getattr(layer, "act", None), f"{name}: act"),
                          norm.eps)
    denominator = getattr(getattr(layer, "rbf", None), "denominator", None)
    if not isinstance(denominator, (int, float)) or not np.isfinite(denominator) or denominator <= 0:
        raise SharekanError(f"{name}: its rbf has no positive 'denominator' (the RBF width); it cannot be reproduced")
    norm = getattr(layer, "layernorm", None)
    if norm is not None:
        checked_layer_norm(norm, name, "layernorm")
    activation = "silu"
    if "base_linear.weight" in tensors:
        activation = reproduced_activation(getattr(layer, "base_activation", None), f"{name}: base activation")
    return fastkan_layer(tensors, name + ".", name, float(denominator), activation,
                         norm.eps if norm is not None else 1e-5)


def checked_layer_norm(norm: object, name: str, attribute: str) -> nn.LayerNorm:
    """``norm`` if it is a LayerNorm over one dimension with a weight and bias, as the families' layers build it."""
    if not (isinstance(norm, nn.LayerNorm) and norm.elementwise_affine and norm.bias is not None
            and len(norm.normalized_shape) == 1):
        raise SharekanError(f"{name}: {attribute} is {norm!r}, not a LayerNorm over one dimension this tool reproduces")
    return norm


def compress_basis_layers(module: nn.Module, names: dict[str, str], config: object,
                          calibration: dict[str, np.ndarray]) -> dict[str, CompressedBasisLayer]:
    """Each layer ``names`` lists, compressed with ``config`` on its calibration inputs (if any), not yet swapped."""
    return {name: compress_basis_layer(live_basis_layer(module.get_submodule(name), name, family), config,
                                       calibration.get(name))
            for name, family in names.items()}


def basis_head(compressed: CompressedBasisLayer) -> nn.Module:
    """The compressed-domain module that takes the layer's place."""
    return CompressedBasisHead(compressed)
