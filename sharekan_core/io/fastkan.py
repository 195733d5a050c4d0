"""FastKAN (ZiyaoLi/fast-kan) layers: LayerNorm, Gaussian RBFs on a fixed grid, and a linear base branch.

Its FastKANLayer's tensors (G grid points):
    layernorm.weight, layernorm.bias  (in,)        absent in a layer built with use_layernorm=False
    rbf.grid                          (G,)
    spline_linear.weight              (out, in * G) the RBF coefficients, input-major: column i * G + g
    base_linear.weight, .bias         (out, in), (out,)  absent in a layer built with use_base_update=False
The RBF width (rbf.denominator), the LayerNorm's eps and the base activation are not tensors; they are stated.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import SharekanError
from ..model.basis_kan import BasisKANLayer
from ..model.rbf_kan import RBFBasis
from .basis_layer import check_shape, layer_reader

FASTKAN = "FastKAN"
FASTKAN_TENSORS = ("layernorm.weight", "layernorm.bias", "rbf.grid", "spline_linear.weight", "base_linear.weight",
                   "base_linear.bias")


def fastkan_layer(tensors: dict[str, torch.Tensor], prefix: str, source: str, denominator: float,
                  base_activation: str = "silu", norm_eps: float = 1e-5) -> BasisKANLayer:
    """One FastKANLayer's tensors (names without ``prefix``) as a BasisKANLayer over an RBFBasis."""
    reader = layer_reader(tensors, prefix, source, FASTKAN_TENSORS)
    grid = reader.read("rbf.grid", 1, "(G,)")
    packed = reader.read("spline_linear.weight", 2, "(out, in * G)")
    out_features, width = packed.shape
    if width % len(grid):
        raise SharekanError(f"{source}: {reader.key('spline_linear.weight')} has {width} columns, not a multiple "
                            f"of the grid's {len(grid)} points")
    in_features = width // len(grid)
    norm = None
    if "layernorm.weight" in tensors or "layernorm.bias" in tensors:
        norm = nn.LayerNorm(in_features, eps=norm_eps)
        with torch.no_grad():
            for name in ("weight", "bias"):
                value = reader.read(f"layernorm.{name}", 1, "(in,)")
                getattr(norm, name).copy_(check_shape(value, (in_features,), reader.key(f"layernorm.{name}"), source))
    base_weight = base_bias = None
    if "base_linear.weight" in tensors:
        base_weight = check_shape(reader.read("base_linear.weight", 2, "(out, in)"), (out_features, in_features),
                                  reader.key("base_linear.weight"), source)
        if "base_linear.bias" in tensors:
            base_bias = check_shape(reader.read("base_linear.bias", 1, "(out,)"), (out_features,),
                                    reader.key("base_linear.bias"), source)
    spline_weight = packed.reshape(out_features, in_features, len(grid))
    return BasisKANLayer(RBFBasis(grid, denominator, norm), spline_weight, base_weight, base_bias, base_activation)



def fastkan_state(layer: BasisKANLayer) -> dict[str, torch.Tensor]:
    """``layer`` (over an RBFBasis) as a FastKANLayer's state dict, loadable strictly into a FastKANLayer built with
    the same grid, width and flags (use_layernorm when the basis has a norm, use_base_update when it has a base)."""
    if not isinstance(layer.basis, RBFBasis):
        raise SharekanError(f"a {type(layer.basis).__name__} layer cannot be written as a FastKAN layer")
    state = {"rbf.grid": layer.basis.grid.detach().clone(),
             "spline_linear.weight": layer.spline_weight.detach().reshape(layer.out_features, -1).clone()}
    if layer.basis.norm is not None:
        state.update({f"layernorm.{key}": value.detach().clone() for key, value in layer.basis.norm.state_dict().items()})
    if layer.base_weight is not None:
        state["base_linear.weight"] = layer.base_weight.detach().clone()
        if layer.base_bias is not None:
            state["base_linear.bias"] = layer.base_bias.detach().clone()
    return state
