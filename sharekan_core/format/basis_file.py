"""The stored form of a compressed global-basis layer (FastKAN, ChebyKAN, Gram/KAGN): its tensors and JSON header,
as ``compressed_state_dict`` writes them beside a module's other tensors.

Tensor names (the quantized ones as in ``compressed_file``, ``<name>.payload/minimum/step``):
    codebook.*                          (K, D) quantized, per column
    indices                             (out * in,) packed at ceil(log2 K) bits
    gains.*, biases.*, base_weights.*   (out, in) quantized (base_weights only where the layer has a base branch)
    base_bias                           (out,) float32, where the layer has one
    basis.*, output.*                   the basis's and output module's own float tensors, dense (FastKAN's grid and
                                        LayerNorm, Gram's beta weights and its LayerNorm after the sum)
The header holds the family, shape, bit-widths, base activation and the basis's parameters that are not tensors
(RBF grid size and width, Chebyshev or Gram degree, activations, LayerNorm eps), with a checksum over all of it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..compression.basis_compressor import CompressedBasisLayer
from ..compression.compressed import check_known_activation
from ..compression.packing import index_bits, pack_bits, packed_nbytes, unpack_bits
from ..errors import SharekanError
from ..io.chebykan import CHEBYKAN
from ..io.fastkan import FASTKAN
from ..io.gram import GRAM
from ..io.torchkan import TORCHKAN
from ..io.limits import MAX_COEFFICIENTS, check_budget
from ..model.basis_kan import BasisKANLayer
from ..model.chebyshev_kan import ChebyshevBasis
from ..model.gram_kan import GramBasis, NormThenActivation
from ..model.kan import check_base_activation
from ..model.rbf_kan import RBFBasis
from ..model.torchkan_layer import BSplineBasis, NormThenPReLU
from .compressed_file import codebook_header, quantized_parts, read_quantized, required
from .consistency import check_stored_names
from .integrity import check_codebook_shape, malformed_detail

BASIS_FORMAT = "sharekan-compressed-basis"
BASIS_KIND = "compressed basis layer"
BASIS_VERSION = "1"
_FAMILIES = {RBFBasis: FASTKAN, ChebyshevBasis: CHEBYKAN, GramBasis: GRAM, BSplineBasis: TORCHKAN}
STORED_FAMILIES = tuple(_FAMILIES.values())  # the families whose layers have a stored form
_PER_EDGE = ("gains", "biases", "base_weights")


def basis_family(basis: nn.Module) -> str:
    """The family (io's name: 'FastKAN', 'ChebyKAN', 'Gram/KAGN') whose layers use ``basis``."""
    family = _FAMILIES.get(type(basis))
    if family is None:
        raise SharekanError(f"a {type(basis).__name__} basis has no stored form (FastKAN, ChebyKAN and Gram do)")
    return family


def basis_params(basis: nn.Module, output: nn.Module | None) -> dict:
    """What the basis and output modules compute that is not a tensor: grid size and RBF width, degree,
    activations, LayerNorm eps."""
    family = basis_family(basis)
    if family == FASTKAN:
        return {"grid_points": int(basis.grid.numel()), "denominator": float(basis.denominator),
                "layernorm_eps": None if basis.norm is None else float(basis.norm.eps)}
    if family == CHEBYKAN:
        return {"degree": int(basis.degree)}
    if family == TORCHKAN:
        if not isinstance(output, NormThenPReLU):
            raise SharekanError("a torchkan layer without its LayerNorm after the sum has no stored form")
        return {"order": basis.order, "knots": int(basis.grid.shape[1]), "norm_eps": float(output.norm.eps),
                "prelu": None if output.prelu is None else int(output.prelu.num_parameters)}
    if not isinstance(output, NormThenActivation):
        raise SharekanError("a Gram layer without its LayerNorm and activation after the sum has no stored form")
    return {"degree": int(basis.degree), "activation": basis.activation, "norm_eps": float(output.norm.eps),
            "output_activation": output.activation}


def basis_signature(layer: CompressedBasisLayer | BasisKANLayer) -> dict:
    """What a stored layer and the dense layer it goes into must agree on: family, shape, base branch, basis."""
    if isinstance(layer, CompressedBasisLayer):
        shape, base = list(layer.indices.shape), [layer.base_weights is not None, layer.base_bias is not None]
    else:
        shape, base = [layer.out_features, layer.in_features], [layer.base_weight is not None,
                                                                 layer.base_bias is not None]
    return {"family": basis_family(layer.basis), "shape": shape, "base_activation": layer.base_activation,
            "base weight and bias": base, "basis": basis_params(layer.basis, layer.output)}


def basis_fields(layer: CompressedBasisLayer) -> dict:
    """The header's fields without their checksum."""
    return {"format": BASIS_FORMAT, "version": BASIS_VERSION, "family": basis_family(layer.basis),
            "shape": list(layer.indices.shape), "codebook": codebook_header(layer.codebook),
            "bits": {c: getattr(layer, c).bits for c in _PER_EDGE if getattr(layer, c) is not None},
            "base_bias": layer.base_bias is not None, "base_activation": layer.base_activation,
            "basis": basis_params(layer.basis, layer.output)}


def basis_arrays(layer: CompressedBasisLayer) -> dict[str, np.ndarray]:
    """Every stored tensor of ``layer`` by name (module docstring)."""
    parts = quantized_parts("codebook", "codebook", 0, layer.codebook)
    for component in _PER_EDGE:
        if getattr(layer, component) is not None:
            parts += quantized_parts(component, component, 0, getattr(layer, component))
    arrays = {part.name: part.array for part in parts}
    arrays["indices"] = pack_bits(layer.indices, index_bits(layer.codebook.shape[0]))
    if layer.base_bias is not None:
        arrays["base_bias"] = np.asarray(layer.base_bias, np.float32)
    arrays.update({key: value.detach().float().numpy() for key, value in _dense(layer.basis, layer.output).items()})
    return {key: np.ascontiguousarray(value) for key, value in arrays.items()}


def basis_layer_from(header: dict, arrays: dict[str, np.ndarray], source: str) -> CompressedBasisLayer:
    """The layer a checked header and its arrays (``checked_arrays``) describe, every shape validated against the
    header; ``source`` names it in errors."""
    try:
        layer = _layer(header, arrays, source)
        check_stored_names(arrays, basis_arrays(layer))
    except SharekanError as exc:
        raise SharekanError(f"{source}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise SharekanError(f"{source}: corrupt {BASIS_KIND} ({malformed_detail(exc)})") from None
    return layer


def _layer(header: dict, arrays: dict[str, np.ndarray], source: str) -> CompressedBasisLayer:
    out_f, in_f = (int(v) for v in header["shape"])
    basis, output = _modules(header["family"], header["basis"], out_f, in_f)
    width = _width(basis)
    check_budget(out_f * in_f * (20 + 4 * width), source, "the decoded layer")
    spec = header["codebook"]
    codebook = read_quantized(arrays, "codebook", int(spec["bits"]), tuple(spec["shape"]), spec.get("grouping", "rows"))
    check_codebook_shape("codebook", codebook.shape)
    _expect(codebook.shape[1] == width, f"the basis has {width} functions, the codebook {codebook.shape[1]}")
    packed, bits = required(arrays, "indices"), index_bits(codebook.shape[0])
    _expect(packed.dtype == np.uint8 and packed.size == packed_nbytes(out_f * in_f, bits), "indices are truncated")
    indices = unpack_bits(packed, bits, out_f * in_f).reshape(out_f, in_f)
    _expect(int(indices.max(initial=0)) < codebook.shape[0], f"indices exceed the codebook size {codebook.shape[0]}")
    quantized = {c: read_quantized(arrays, c, int(header["bits"][c]), (out_f, in_f)) for c in _PER_EDGE
                 if c in header["bits"]}
    _expect("gains" in quantized and "biases" in quantized, "the header lists no gains or biases")
    base_bias = None
    if header["base_bias"]:
        base_bias = required(arrays, "base_bias")
        _expect(base_bias.shape == (out_f,) and base_bias.dtype == np.float32 and np.isfinite(base_bias).all(),
                f"base_bias must be {out_f} finite float32 values")
    for key, value in _dense(basis, output).items():
        stored = required(arrays, key)
        _expect(stored.shape == tuple(value.shape) and stored.dtype == np.float32 and np.isfinite(stored).all(),
                f"{key} must be finite float32 of shape {tuple(value.shape)}")
        with torch.no_grad():
            value.copy_(torch.from_numpy(stored))
    return CompressedBasisLayer(basis, codebook, indices, quantized["gains"], quantized["biases"],
                                quantized.get("base_weights"), base_bias,
                                check_known_activation(header["base_activation"]), output)


def _modules(family: object, params: dict, out_f: int, in_f: int) -> tuple[nn.Module, nn.Module | None]:
    """The basis and output modules ``params`` describe, their tensors zero until loaded."""
    output = None
    if family == FASTKAN:
        eps = params["layernorm_eps"]
        basis = RBFBasis(torch.zeros(_count(params["grid_points"])), _positive(params["denominator"]),
                         None if eps is None else nn.LayerNorm(in_f, eps=_positive(eps)))
    elif family == CHEBYKAN:
        basis = ChebyshevBasis(_count(params["degree"] + 1) - 1)
    elif family == TORCHKAN:
        order = _count(params["order"] + 1) - 1
        basis = BSplineBasis(torch.zeros(in_f, _count(params["knots"])), order)
        _expect(params["knots"] > order + 1, f"{params['knots']} knots hold no B-spline of order {order}")
        prelu = params["prelu"]
        _expect(prelu in (None, 1, out_f), f"a PReLU of {str(prelu)[:20]} slopes after {out_f} outputs")
        output = NormThenPReLU(nn.LayerNorm(out_f, eps=_positive(params["norm_eps"])),
                               None if prelu is None else nn.PReLU(_count(prelu)))
    elif family == GRAM:
        basis = GramBasis(torch.zeros(_count(params["degree"] + 1)), check_base_activation(params["activation"]))
        output = NormThenActivation(nn.LayerNorm(out_f, eps=_positive(params["norm_eps"])),
                                    check_base_activation(params["output_activation"]))
    else:
        raise SharekanError(f"unknown family {str(family)[:40]!r}; FastKAN, ChebyKAN and Gram/KAGN layers are stored")
    _expect(basis_params(basis, output) == params, f"the {family} basis parameters {params} are not all understood")
    return basis, output


def _width(basis: nn.Module) -> int:
    """Basis functions per input: RBF grid points, B-splines on the knots, or polynomial degree + 1."""
    if isinstance(basis, RBFBasis):
        return basis.grid.numel()
    if isinstance(basis, BSplineBasis):
        return basis.grid.shape[1] - basis.order - 1
    return basis.degree + 1


def _dense(basis: nn.Module, output: nn.Module | None) -> dict[str, torch.Tensor]:
    """The basis's and output module's own float tensors, by their names in a CompressedBasisHead ('basis.grid')."""
    modules = {"basis": basis, "output": output}
    return {f"{prefix}.{key}": value for prefix, module in modules.items() if module is not None
            for key, value in module.state_dict().items() if value.is_floating_point()}


def _count(value: object) -> int:
    _expect(isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COEFFICIENTS,
            f"{str(value)[:40]} basis functions; expected 1 to {MAX_COEFFICIENTS}")
    return value


def _positive(value: object) -> float:
    _expect(isinstance(value, float) and np.isfinite(value) and value > 0,
            f"{str(value)[:40]} is not a positive number")
    return value


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SharekanError(message)
