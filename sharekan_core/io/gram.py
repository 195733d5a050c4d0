"""torch-conv-kan's Gram (KAGN) layers (GRAMLayer in IvanDrokin/torch-conv-kan's kans/layers.py):
y = act(LayerNorm(sum_i sum_d c[i, o, d] act(P_d(tanh x_i)) + act(x) @ base_weights.T)).

Its GRAMLayer's tensors (D = degree):
    beta_weights         (D + 1,)           the Gram recurrence's weights, shared by every edge (kept dense)
    grams_basis_weights  (in, out, D + 1)   each edge's coefficients
    base_weights         (out, in)          the base branch, no bias
    norm.weight, norm.bias  (out,)          the LayerNorm after the sum
Its activation (``act``, SiLU by default) and the LayerNorm's eps are not tensors; they are stated.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import SharekanError
from ..model.basis_kan import BasisKANLayer
from ..model.gram_kan import GramBasis, NormThenActivation
from .basis_layer import check_shape, layer_reader

GRAM = "Gram/KAGN"
GRAM_TENSORS = ("beta_weights", "grams_basis_weights", "base_weights", "norm.weight", "norm.bias")


def gram_layer(tensors: dict[str, torch.Tensor], prefix: str, source: str, activation: str = "silu",
               norm_eps: float = 1e-5) -> BasisKANLayer:
    """One GRAMLayer's tensors (names without ``prefix``) as a BasisKANLayer over a GramBasis, with the LayerNorm
    and activation after the sum as its output module."""
    reader = layer_reader(tensors, prefix, source, GRAM_TENSORS)
    coefficients = reader.read("grams_basis_weights", 3, "(in, out, D + 1)")
    in_features, out_features, count = coefficients.shape

    def shaped(name: str, dims: int, text: str, shape: tuple[int, ...]) -> torch.Tensor:
        return check_shape(reader.read(name, dims, text), shape, reader.key(name), source)

    beta_weights = shaped("beta_weights", 1, "(D + 1,)", (count,))
    base_weights = shaped("base_weights", 2, "(out, in)", (out_features, in_features))
    norm = nn.LayerNorm(out_features, eps=norm_eps)
    with torch.no_grad():
        for name in ("weight", "bias"):
            getattr(norm, name).copy_(shaped(f"norm.{name}", 1, "(out,)", (out_features,)))
    return BasisKANLayer(GramBasis(beta_weights, activation), coefficients.permute(1, 0, 2).contiguous(),
                         base_weights, None, activation, NormThenActivation(norm, activation))


def gram_state(layer: BasisKANLayer) -> dict[str, torch.Tensor]:
    """``layer`` (over a GramBasis, as gram_layer builds it) as a GRAMLayer's state dict, loadable strictly into
    GRAMLayer(in, out, degree)."""
    if not isinstance(layer.basis, GramBasis) or not isinstance(layer.output, NormThenActivation) \
            or layer.base_weight is None or layer.base_bias is not None:
        raise SharekanError("only a Gram layer as gram_layer builds it can be written as a GRAMLayer")
    return {"beta_weights": layer.basis.beta_weights.detach().clone(),
            "grams_basis_weights": layer.spline_weight.detach().permute(1, 0, 2).contiguous(),
            "base_weights": layer.base_weight.detach().clone(),
            **{f"norm.{key}": value.detach().clone() for key, value in layer.output.norm.state_dict().items()}}
