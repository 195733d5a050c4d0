"""ChebyKAN (SynodicMonth/ChebyKAN) layers: y_o = sum_i sum_d c[i, o, d] T_d(tanh x_i), no base branch.

Its ChebyKANLayer's tensors: cheby_coeffs (in, out, degree + 1) and the buffer arange (degree + 1,) = 0..degree.
"""
from __future__ import annotations

import torch

from ..errors import SharekanError
from ..model.basis_kan import BasisKANLayer
from ..model.chebyshev_kan import ChebyshevBasis
from .basis_layer import layer_reader

CHEBYKAN = "ChebyKAN"
CHEBYKAN_TENSORS = ("cheby_coeffs", "arange")


def chebykan_layer(tensors: dict[str, torch.Tensor], prefix: str, source: str) -> BasisKANLayer:
    """One ChebyKANLayer's tensors (names without ``prefix``) as a BasisKANLayer over a ChebyshevBasis."""
    reader = layer_reader(tensors, prefix, source, CHEBYKAN_TENSORS)
    coefficients = reader.read("cheby_coeffs", 3, "(in, out, degree + 1)")
    degree = coefficients.shape[-1] - 1
    if "arange" in tensors and not torch.equal(tensors["arange"].to(torch.float64).flatten(),
                                               torch.arange(degree + 1, dtype=torch.float64)):
        raise SharekanError(f"{source}: {reader.key('arange')} is not 0..{degree}; ChebyKAN's orders cannot be "
                            "reproduced, so the layer is refused")
    return BasisKANLayer(ChebyshevBasis(degree), coefficients.permute(1, 0, 2).contiguous())


def chebykan_state(layer: BasisKANLayer) -> dict[str, torch.Tensor]:
    """``layer`` (over a ChebyshevBasis, no base branch) as a ChebyKANLayer's state dict, loadable strictly into
    ChebyKANLayer(in, out, degree)."""
    if not isinstance(layer.basis, ChebyshevBasis) or layer.base_weight is not None:
        raise SharekanError("only a Chebyshev layer without a base branch can be written as a ChebyKAN layer")
    return {"cheby_coeffs": layer.spline_weight.detach().permute(1, 0, 2).contiguous(),
            "arange": torch.arange(layer.num_coefficients)}
