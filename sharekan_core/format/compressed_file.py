"""The compressed file: one safetensors file whose tensors are exactly the accounted bytes.

Tensor names: ``codebooks.C.{payload,minimum,step}``, ``layers.N.{indices,kept,grid,output_scale,
output_bias}`` and ``layers.N.{coefficients,gains,biases,base_weights}.{payload,minimum,step}``; which
of them a layer holds depends on the header's ``method`` (see ``compress.compressed``). Everything
else (shapes, bit-widths, config) lives in the JSON header, so the file's size is the
accounted payload plus the safetensors header. The header's ``base_activation`` names the model's base
activation; it is written only when it is not SiLU, so files without it (all files before it existed) are SiLU.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..compression.compressed import CompressedKAN, CompressedLayer, check_known_activation
from ..compression.methods import METHOD_CONFIGS
from ..compression.packing import index_bits, pack_bits, packed_nbytes, unpack_bits
from ..compression.quantize import GROUPINGS, QuantizedTensor
from ..errors import SharekanError
from .consistency import check_consistent, check_stored_names
from .integrity import (check_codebook_shape, check_finite, check_header_numbers, check_payload, encode_checked,
                        malformed_detail, numpy_arrays, verify_checksum)
from ..io.atomic import write_bytes_atomic
from ..io.model_file import COMPRESSED_FORMAT
from ..io.tensors import SAFETENSORS, decode_header, header_field, read_safetensors, sniff_format
from ..model.kan import DEFAULT_ACTIVATION

FORMAT_VERSION = "2"
COMPRESSED_KIND = "compressed SHARe-KAN file"
READABLE_VERSIONS = ("1", "2")  # version 1 has no codebook "grouping": its affine pairs are per row
_QUANTIZED = ("gains", "biases", "base_weights")
_PER_EDGE = ("coefficients", *_QUANTIZED)  # the quantized tensors a layer may hold, in file order


@dataclass(frozen=True)
class StoredTensor:
    """One tensor of the file, with the storage component and layer it is accounted under."""

    name: str
    component: str
    layer: int | None  # None: a codebook shared by all layers
    array: np.ndarray


def stored_tensors(compressed: CompressedKAN) -> list[StoredTensor]:
    """Every tensor the file holds, in file order, tagged for accounting."""
    shared = getattr(compressed.config, "scope", "layer") == "global"
    out: list[StoredTensor] = []
    for cid, codebook in enumerate(compressed.codebooks):
        out += quantized_parts(f"codebooks.{cid}", "codebook", None if shared else cid, codebook)
    for index, layer in enumerate(compressed.layers):
        prefix = f"layers.{index}."
        if layer.indices is not None:
            bits = compressed.index_bits(layer.codebook_id)
            out.append(StoredTensor(prefix + "indices", "indices", index, pack_bits(layer.indices, bits)))
        if layer.kept is not None:
            out.append(StoredTensor(prefix + "kept", "mask", index, pack_bits(layer.kept.astype(np.uint8), 1)))
        for component in _PER_EDGE:
            if getattr(layer, component) is not None:
                out += quantized_parts(prefix + component, component, index, getattr(layer, component))
        out.append(StoredTensor(prefix + "output_scale", "scales", index, layer.output_scale))
        out.append(StoredTensor(prefix + "output_bias", "scales", index, layer.output_bias))
        out.append(StoredTensor(prefix + "grid", "grids", index, layer.grid))
    return out


def quantized_parts(prefix: str, component: str, layer: int | None, tensor: QuantizedTensor) -> list[StoredTensor]:
    """A quantized tensor's stored parts: ``<prefix>.payload``, then ``.minimum`` and ``.step`` for integer codes."""
    parts = [StoredTensor(prefix + ".payload", component, layer, tensor.payload)]
    if tensor.minimum is not None:
        parts.append(StoredTensor(prefix + ".minimum", component, layer, tensor.minimum))
        parts.append(StoredTensor(prefix + ".step", component, layer, tensor.step))
    return parts


def encode_compressed(compressed: CompressedKAN) -> bytes:
    """Serialise to safetensors bytes (deterministic: sorted JSON, no timestamps), with a checksum in the header."""
    return encode_checked(compressed_fields(compressed), {t.name: t.array for t in stored_tensors(compressed)})


def compressed_fields(compressed: CompressedKAN) -> dict:
    """The compressed file's header fields without their checksum: format, method, config, codebooks, layers
    (and the base activation unless it is SiLU)."""
    return {
        "format": COMPRESSED_FORMAT,
        "version": FORMAT_VERSION,
        "method": compressed.method,
        "config": asdict(compressed.config),
        "codebooks": [codebook_header(c) for c in compressed.codebooks],
        "layers": [layer_header(layer) for layer in compressed.layers],
        "metadata": compressed.metadata,
        **activation_field(compressed.base_activation),
    }


def activation_field(base_activation: str) -> dict:
    """The header's ``base_activation`` entry: empty for SiLU, so SiLU files stay byte for byte as before it."""
    return {} if base_activation == DEFAULT_ACTIVATION else {"base_activation": base_activation}


def recorded_activation(header: dict) -> str:
    """The base activation a header (or a multi-head bundle's head) records: SiLU where it has none;
    a SharekanError for one this tool does not compute."""
    return check_known_activation(header.get("base_activation", DEFAULT_ACTIVATION))


def save_compressed(compressed: CompressedKAN, path: str | Path) -> int:
    """Write the compressed file atomically; return its size in bytes. A ``CompressedBasisKAN`` is written as
    ``format.basis_net_file`` writes it (``load_basis_kan`` reads it back)."""
    if not isinstance(compressed, CompressedKAN):
        from .basis_net_file import save_basis_kan  # it imports this module

        return save_basis_kan(compressed, path)
    payload = encode_compressed(compressed)
    write_bytes_atomic(path, payload)
    return len(payload)


def header_nbytes(path: str | Path) -> int:
    """Bytes of a safetensors file that are not tensor payload: the 8-byte length plus the JSON header."""
    with Path(path).open("rb") as handle:
        return 8 + int.from_bytes(handle.read(8), "little")


def codebook_header(codebook: QuantizedTensor) -> dict:
    """The JSON description of one codebook: bit-width, shape and affine grouping."""
    return {"bits": codebook.bits, "shape": list(codebook.shape), "grouping": codebook.grouping}


def layer_header(layer: CompressedLayer) -> dict:
    """The JSON description of one layer: codebook, order, shape, bit-widths and the method's tensors."""
    header = {
        "codebook": layer.codebook_id,
        "spline_order": layer.spline_order,
        "shape": [layer.out_features, layer.in_features],
        "bits": {c: getattr(layer, c).bits for c in _QUANTIZED if getattr(layer, c) is not None},
    }
    if layer.coefficients is not None:
        header["coefficients"] = {"bits": layer.coefficients.bits, "shape": list(layer.coefficients.shape)}
    if layer.kept is not None:
        header["kept"] = int(layer.kept.sum())
    return header


def is_compressed_file(path: str | Path) -> bool:
    """True if ``path`` is a safetensors file written by ``save_compressed``."""
    return header_format(path) == COMPRESSED_FORMAT


def header_format(path: str | Path) -> str | None:
    """The ``format`` field of a safetensors file's JSON header; None for anything else or unreadable."""
    try:
        if sniff_format(path) != SAFETENSORS:
            return None
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            return decode_header(handle.metadata() or {}, path).get("format")
    except Exception:
        return None


def read_checked(path: Path, expected_format: str, kind: str, hint: str = "") -> tuple[dict, dict[str, np.ndarray]]:
    """Header and arrays of a file of ``expected_format``, its version known and its checksum verified.

    ``kind`` names the file in errors ("compressed SHARe-KAN file"); ``hint`` follows a format mismatch.
    """
    if sniff_format(path) != SAFETENSORS:
        raise SharekanError(f"{path.name}: not a {kind}")
    tensors, raw = read_safetensors(path)
    header = decode_header(raw, path)
    if header.get("format") != expected_format:
        raise SharekanError(f"{path.name}: not a {kind}{hint}")
    return header, checked_arrays(header, tensors, kind, path.name)


def checked_arrays(header: dict, tensors: dict, kind: str, source: str,
                   versions: tuple[str, ...] = READABLE_VERSIONS) -> dict[str, np.ndarray]:
    """The tensors of a ``kind`` whose header is ``header`` as numpy arrays, its version known, its checksum
    verified and its declared numbers bounded; ``source`` names it in errors."""
    if header.get("version") not in versions:
        raise SharekanError(f"{source}: unsupported {kind} version {header.get('version')!r}")
    arrays = numpy_arrays(tensors, source)
    verify_checksum(header, arrays, source)
    check_header_numbers(header, source)
    return arrays


def read_codebooks(arrays: dict[str, np.ndarray], header: dict, path: Path | str) -> list[QuantizedTensor]:
    """Every codebook a header lists, read and checked against its declared bits, shape and grouping."""
    return [read_quantized(arrays, f"codebooks.{i}", c["bits"], tuple(c["shape"]), c.get("grouping", "rows"))
            for i, c in enumerate(header_field(header, "codebooks", list, path))]


def load_compressed(path: str | Path) -> CompressedKAN:
    """Read a compressed file, validating every shape against its header."""
    path = Path(path)
    if header_format(path) == "sharekan-compressed-basis-kan":  # format.basis_net_file.BASIS_KAN_FORMAT
        raise SharekanError(f"{path.name}: is a compressed FastKAN, ChebyKAN or Gram net, not a B-spline KAN's compressed file: "
                            "predict, evaluate, export, inspect and decompress read it (sk.load_basis_kan in the API)")
    header, arrays = read_checked(path, COMPRESSED_FORMAT, COMPRESSED_KIND, " (it may be a dense model)")
    return compressed_from(header, arrays, path.name)


def compressed_from(header: dict, arrays: dict[str, np.ndarray], source: str) -> CompressedKAN:
    """The compressed KAN a checked header and its arrays (``checked_arrays``) describe, every shape validated
    against the header; ``source`` names it in errors."""
    try:
        method = header.get("method", "sharekan")
        _expect(method in METHOD_CONFIGS, f"unknown compression method {method!r}")
        config = METHOD_CONFIGS[method](**header_field(header, "config", dict, source))
        activation = recorded_activation(header)
        codebooks = read_codebooks(arrays, header, source)
        layers = [_read_layer(arrays, index, spec, codebooks)
                  for index, spec in enumerate(header_field(header, "layers", list, source))]
    except SharekanError as exc:
        raise SharekanError(f"{source}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SharekanError(f"{source}: corrupt compressed file ({malformed_detail(exc)})") from None
    metadata = header_field(header, "metadata", dict, source)
    compressed = CompressedKAN(codebooks, layers, config, metadata, activation)
    try:
        check_layer_chain(layers)
        check_consistent(compressed)
        check_stored_names(arrays, (t.name for t in stored_tensors(compressed)))
    except SharekanError as exc:
        raise SharekanError(f"{source}: {exc}") from None
    return compressed


def check_layer_chain(layers: list[CompressedLayer]) -> None:
    """Raise SharekanError unless there is a layer and each one takes the previous layer's outputs."""
    if not layers:
        raise SharekanError("compressed model has no layers")
    for index in range(1, len(layers)):
        if layers[index].in_features != layers[index - 1].out_features:
            raise SharekanError(f"layer {index} takes {layers[index].in_features} inputs "
                                f"but layer {index - 1} gives {layers[index - 1].out_features}")


def read_quantized(arrays: dict[str, np.ndarray], prefix: str, bits: int, shape: tuple[int, ...],
                   grouping: str = "rows") -> QuantizedTensor:
    """The quantized tensor stored under ``prefix``, checked against its declared bits, shape and grouping."""
    payload = required(arrays, prefix + ".payload")
    check_payload(prefix, bits, payload)
    count = int(np.prod(shape))
    if bits >= 16:
        _expect(payload.size == count, f"{prefix} holds {payload.size} values, header says {count}")
        _expect(np.isfinite(payload).all(), f"{prefix} contains NaN or Inf values")
        return QuantizedTensor(bits, shape, payload, grouping=grouping)
    minimum, step = required(arrays, prefix + ".minimum"), required(arrays, prefix + ".step")
    _expect(grouping in GROUPINGS, f"{prefix} has unknown grouping {grouping!r}")
    groups = (shape[1] if grouping == "columns" else shape[0]) if len(shape) == 2 else 1
    _expect(payload.size == packed_nbytes(count, bits), f"{prefix} has {payload.size} bytes, expected {packed_nbytes(count, bits)}")
    _expect(minimum.shape == (groups,) and step.shape == (groups,), f"{prefix} affine parameters have the wrong shape")
    _expect(minimum.dtype == step.dtype == np.float32, f"{prefix} affine parameters must be float32")
    _expect(np.isfinite(minimum).all() and np.isfinite(step).all(), f"{prefix} contains NaN or Inf values")
    _expect((step >= 0).all(), f"{prefix} has a negative quantization step")
    return QuantizedTensor(bits, shape, payload, minimum, step, grouping)


def _read_layer(arrays: dict[str, np.ndarray], index: int, spec: dict,
                codebooks: list[QuantizedTensor]) -> CompressedLayer:
    prefix = f"layers.{index}."
    out_f, in_f = (int(v) for v in spec["shape"])
    order = int(spec["spline_order"])
    grid = required(arrays, prefix + "grid")
    _expect(grid.ndim == 2 and grid.shape[0] == in_f and grid.shape[1] > order + 1, f"layer {index} grid has shape {grid.shape}")
    coeffs = grid.shape[1] - order - 1
    _expect(np.isfinite(grid).all() and (np.diff(grid, axis=1) > 0).all(), f"layer {index} grid is not finite and increasing")
    codebook_id, indices = spec["codebook"], None
    if codebook_id is not None:
        indices = _read_indices(arrays, prefix, index, codebook_id, codebooks, (out_f, in_f), coeffs)
    kept, per_edge_shape = None, (out_f, in_f)
    if "kept" in spec:
        packed = required(arrays, prefix + "kept")
        _expect(packed.dtype == np.uint8 and packed.size == packed_nbytes(out_f * in_f, 1), f"layer {index} edge mask is truncated")
        kept = unpack_bits(packed, 1, out_f * in_f).reshape(out_f, in_f).astype(bool)
        _expect(int(kept.sum()) == int(spec["kept"]), f"layer {index} edge mask disagrees with its header")
        per_edge_shape = (int(kept.sum()),)
    quantized = {c: read_quantized(arrays, prefix + c, int(spec["bits"][c]), per_edge_shape if c == "base_weights" else (out_f, in_f))
                 for c in _QUANTIZED if c in spec["bits"]}
    _expect("base_weights" in quantized, f"layer {index} has no base weights")
    _expect((indices is None) == ("coefficients" in spec), f"layer {index} must hold either codebook indices or coefficients")
    coefficients = None
    if "coefficients" in spec:
        shape = tuple(int(v) for v in spec["coefficients"]["shape"])
        expected = (kept.sum() * coeffs) if kept is not None else out_f * in_f * coeffs
        _expect(len(shape) == 2 and int(np.prod(shape)) == expected, f"layer {index} coefficients have shape {shape}")
        coefficients = read_quantized(arrays, prefix + "coefficients", int(spec["coefficients"]["bits"]), shape)
    scale, bias = required(arrays, prefix + "output_scale"), required(arrays, prefix + "output_bias")
    _expect(scale.shape == (out_f,) and bias.shape == (out_f,), f"layer {index} output affine has the wrong shape")
    _expect(grid.dtype == scale.dtype == bias.dtype == np.float32, f"layer {index} grid and output affine must be float32")
    check_finite(f"layer {index} output affine", scale, bias)
    return CompressedLayer(grid=grid, spline_order=order, codebook_id=codebook_id, indices=indices,
                           gains=quantized.get("gains"), biases=quantized.get("biases"),
                           base_weights=quantized["base_weights"], output_scale=scale, output_bias=bias,
                           coefficients=coefficients, kept=kept)


def _read_indices(arrays: dict[str, np.ndarray], prefix: str, index: int, codebook_id: object,
                  codebooks: list[QuantizedTensor], shape: tuple[int, int], coeffs: int) -> np.ndarray:
    _expect(isinstance(codebook_id, int) and 0 <= codebook_id < len(codebooks), f"layer {index} refers to missing codebook {codebook_id}")
    check_codebook_shape(f"codebooks.{codebook_id}", codebooks[codebook_id].shape)
    k_eff, width = codebooks[codebook_id].shape
    _expect(width == coeffs, f"layer {index} grid implies {coeffs} coefficients, its codebook has {width}")
    bits = index_bits(k_eff)
    packed = required(arrays, prefix + "indices")
    _expect(packed.dtype == np.uint8, f"layer {index} indices are stored as {packed.dtype}, expected packed uint8")
    _expect(packed.size == packed_nbytes(shape[0] * shape[1], bits), f"layer {index} indices are truncated")
    indices = unpack_bits(packed, bits, shape[0] * shape[1]).reshape(shape)
    _expect(int(indices.max(initial=0)) < k_eff, f"layer {index} indices exceed the codebook size {k_eff}")
    return indices


def required(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    """``arrays[name]``, or a SharekanError naming the missing tensor."""
    if name not in arrays:
        raise SharekanError(f"missing tensor '{name}'")
    return arrays[name]


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SharekanError(message)
