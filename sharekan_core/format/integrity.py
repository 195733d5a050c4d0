"""Integrity and sanity checks shared by the compressed file formats.

The checksum covers every stored tensor (name, dtype, shape, bytes, whatever tensors a method
stores) and every header field except itself, so a flipped bit anywhere in the file is either
refused or leaves the decoded model unchanged. The header checks run before any tensor is
interpreted: they bound every declared size, so no layer is built from a number the file
could not back up.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from typing import Mapping

import numpy as np
import torch
from safetensors.torch import save as save_bytes

from ..errors import SharekanError
from ..io.tensors import encode_header
from ..io.limits import MAX_COEFFICIENTS, MAX_SPLINE_ORDER, check_budget
from ..ranges import FILE_BITS, UNIFORM_BITS

CHECKSUM_FIELD = "checksum"
PAYLOAD_DTYPES = {32: np.float32, 16: np.float16, **{bits: np.uint8 for bits in UNIFORM_BITS}}
MAX_DIMENSION = 1 << 31

log = logging.getLogger("sharekan_core")


def header_digest(fields: Mapping) -> str:
    """SHA-256 of the header's fields (all but the checksum itself), as canonical JSON."""
    semantic = {key: value for key, value in fields.items() if key != CHECKSUM_FIELD}
    return hashlib.sha256(json.dumps(semantic, sort_keys=True).encode()).hexdigest()


def payload_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every tensor in name order: name, dtype, shape, then its bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def checksum(fields: Mapping, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    """The header's ``checksum`` value for ``fields`` and ``arrays``."""
    return {"algorithm": "sha256", "header": header_digest(fields), "payload": payload_digest(arrays)}


def encode_checked(fields: dict, arrays: Mapping[str, np.ndarray]) -> bytes:
    """Safetensors bytes of ``arrays`` whose header holds ``fields`` plus their checksum."""
    tensors = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in arrays.items()}
    stored = {name: tensor.numpy() for name, tensor in tensors.items()}
    return save_bytes(tensors, metadata=encode_header({**fields, CHECKSUM_FIELD: checksum(fields, stored)}))


def numpy_arrays(tensors: Mapping[str, torch.Tensor], source: str) -> dict[str, np.ndarray]:
    """The tensors as numpy arrays; dtypes these formats never store (bfloat16, float8, ...) are refused."""
    arrays = {}
    for name, tensor in tensors.items():
        if tensor.dtype not in (torch.float32, torch.float16, torch.uint8, torch.int64, torch.bool):
            raise SharekanError(f"{source}: tensor '{name[:80]}' has dtype {str(tensor.dtype).removeprefix('torch.')}, "
                                "which this format never stores")
        arrays[name] = tensor.numpy()
    return arrays


def verify_checksum(fields: Mapping, arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Raise SharekanError naming the part that changed; files written before checksums load with a note."""
    stored = fields.get(CHECKSUM_FIELD)
    if stored is None:
        log.warning("note: %s has no checksum (written before integrity checks); loaded without verifying it", source)
        return
    if not isinstance(stored, dict) or stored.get("algorithm") != "sha256":
        raise SharekanError(f"{source}: corrupted file (its checksum field is malformed)")
    if stored.get("header") != header_digest(fields):
        raise SharekanError(f"{source}: corrupted file (header fields do not match their checksum)")
    if stored.get("payload") != payload_digest(arrays):
        raise SharekanError(f"{source}: corrupted file (tensor data does not match its checksum)")


def check_header_numbers(fields: Mapping, source: str) -> None:
    """Check every bit-width, shape and spline order the header declares, wherever it sits.

    Walks the header, so it holds for every method's layout: ``bits`` values must be one of
    4/8/16/32, ``shape`` lists positive integers, ``spline_order`` 0..MAX_SPLINE_ORDER, and the
    decoded layers (per-edge values and, once decompressed, coefficients) must fit the memory budget.
    """
    edges, coefficients = 0, 0
    for key, value, where in _walk(fields, ""):
        if key == "bits":
            for bits in (value.values() if isinstance(value, dict) else [value]):
                if bits is not None and (not _is_int(bits) or bits not in FILE_BITS):
                    raise SharekanError(f"{source}: {where} is {_short(bits)}; bit-widths must be 2 to 8, 16 or 32")
        elif key == "shape":
            if not isinstance(value, list) or not 1 <= len(value) <= 4 or not all(
                    _is_int(d) and 1 <= d <= MAX_DIMENSION for d in value):
                raise SharekanError(f"{source}: {where} is {_short(value)}; expected 1 to 4 positive integers")
            if len(value) == 2 and ".layers." in f".{where}":
                edges += value[0] * value[1]
            elif len(value) == 2 and ".codebooks." in f".{where}":
                coefficients = max(coefficients, value[1])
        elif key == "spline_order":
            if not _is_int(value) or not 0 <= value <= MAX_SPLINE_ORDER:
                raise SharekanError(f"{source}: {where} is {_short(value)}; expected 0..{MAX_SPLINE_ORDER}")
    # In memory an edge holds an int64 index and three float32 values, and D float32 once decompressed.
    check_budget(edges * (20 + 4 * coefficients), source, "the decoded layers")


def malformed_detail(exc: Exception) -> str:
    """Plain words for a KeyError/TypeError/ValueError/IndexError met while reading a malformed header."""
    if isinstance(exc, KeyError):
        return f"header field {exc} is missing"
    return (str(exc).splitlines() or ["malformed header"])[0][:120]


def check_payload(name: str, bits: int, payload: np.ndarray) -> None:
    """Raise SharekanError unless ``payload``'s dtype is the one ``bits`` implies (float32, float16, uint8)."""
    expected = PAYLOAD_DTYPES.get(bits)
    if expected is None or payload.dtype != expected:
        raise SharekanError(f"{name} is stored as {payload.dtype} but its header says {bits} bits "
                            f"({np.dtype(expected).name if expected else 'unsupported'} expected)")


def check_codebook_shape(name: str, shape: tuple[int, ...]) -> None:
    """Raise SharekanError unless a codebook is (K, D) with D within MAX_COEFFICIENTS."""
    if len(shape) != 2 or not 1 <= shape[1] <= MAX_COEFFICIENTS or not 1 <= shape[0] <= 1 << 20:
        raise SharekanError(f"{name} has shape {tuple(shape)}; expected (K, D) with D from 1 to {MAX_COEFFICIENTS:,}")


def check_finite(name: str, *arrays: np.ndarray) -> None:
    """Raise SharekanError if any array holds NaN or Inf."""
    for array in arrays:
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise SharekanError(f"{name} contains NaN or Inf values")


def _walk(value: object, where: str):
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            yield key, item, path
            if key not in ("metadata", CHECKSUM_FIELD, "bits", "shape"):
                yield from _walk(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}.{index}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
