"""Safe readers for tensor files: safetensors and weights-only torch checkpoints.

Both readers check what a file declares (dtypes, shapes, byte ranges, inflated sizes) against
the file's own size and the memory budget before any tensor is built.
"""
from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open

from ..errors import SharekanError, os_error_message
from .limits import check_budget

SAFETENSORS = "safetensors"
TORCH_ZIP = "torch-zip"
MAX_HEADER_BYTES = 100 * 1024 * 1024
# A torch.save zip stores its entries uncompressed; a deflated one may shrink float data a
# little, never this much: a higher ratio is a zip bomb.
MAX_INFLATION = 16
# Bytes per element of every dtype safetensors can declare.
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def sniff_format(path: str | Path) -> str:
    """Return SAFETENSORS or TORCH_ZIP from the file's first bytes, or raise SharekanError."""
    path = Path(path)
    if path.is_dir():
        raise SharekanError(f"{path}: is a folder, not a model file")
    if not path.is_file():
        raise SharekanError(f"no such file: {path}")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(9)
    except OSError as exc:
        raise SharekanError(os_error_message(exc)) from None
    if size == 0:
        raise SharekanError(f"{path.name}: file is empty")
    if head[:2] == b"PK":
        return TORCH_ZIP
    if len(head) >= 9 and head[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", head[:8])
        if header_len <= min(size - 8, MAX_HEADER_BYTES):
            return SAFETENSORS
        raise SharekanError(f"{path.name}: truncated or corrupt safetensors file (header says {header_len} bytes, file has {size})")
    raise SharekanError(f"{path.name}: unknown format (expected a .safetensors file or a torch checkpoint)")


def check_safetensors_header(path: str | Path) -> dict[str, dict]:
    """Return the tensor entries of a safetensors header after checking each dtype, shape and byte range.

    Every entry must hold exactly shape x itemsize bytes inside the file, so nothing loaded can
    be larger than the file itself; the total is also held to the memory budget.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            size = path.stat().st_size
            if header_len > size - 8:  # checked before reading: a junk length must not allocate gigabytes
                raise SharekanError(f"{path.name}: truncated or corrupt safetensors file (its header claims "
                                    f"{header_len:,} bytes, the file has {size:,})")
            raw = handle.read(header_len)
    except (OSError, struct.error) as exc:
        raise SharekanError(os_error_message(exc) if isinstance(exc, OSError) else f"{path.name}: truncated file") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise SharekanError(f"{path.name}: corrupt safetensors header (not valid JSON)") from None
    if not isinstance(header, dict):
        raise SharekanError(f"{path.name}: corrupt safetensors header (not a JSON object)")
    data_bytes = size - 8 - header_len
    entries = {name: entry for name, entry in header.items() if name != "__metadata__"}
    total = 0
    for name, entry in entries.items():
        _check_entry(name, entry, data_bytes, path.name)
        total += entry["data_offsets"][1] - entry["data_offsets"][0]
    check_budget(total, path.name, "its tensors")
    return entries


def _check_entry(name: str, entry: object, data_bytes: int, source: str) -> None:
    def bad(reason: str) -> SharekanError:
        return SharekanError(f"{source}: tensor '{name[:80]}' {reason}")

    if not isinstance(entry, dict):
        raise bad("has a malformed header entry")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise bad(f"has unsupported dtype {str(dtype)[:20]!r}")
    if not isinstance(shape, list) or len(shape) > 8 or not all(_is_count(d) for d in shape):
        raise bad("has a malformed shape (expected up to 8 non-negative integers)")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        raise bad("has malformed data offsets")
    begin, end = offsets
    if not begin <= end <= data_bytes:
        raise bad(f"lies outside the file (bytes {begin}..{end} of {max(data_bytes, 0)}); the file is truncated or corrupt")
    if math.prod(shape) * DTYPE_BYTES[dtype] != end - begin:
        raise bad(f"declares shape {tuple(shape)} but holds {end - begin} bytes")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Return (tensors, string metadata) of a safetensors file, with corruption as SharekanError."""
    path = Path(path)
    check_safetensors_header(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise SharekanError(f"{path.name}: corrupt or truncated safetensors file ({_first_line(exc)})") from None
    return tensors, metadata


def check_zip_sizes(path: str | Path) -> None:
    """Raise SharekanError if a torch zip checkpoint would inflate past its budget (a zip bomb)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise SharekanError(f"{path.name}: corrupt or truncated torch checkpoint (not a readable zip)") from None
    except OSError as exc:
        raise SharekanError(os_error_message(exc)) from None
    inflated = sum(entry.file_size for entry in entries)
    check_budget(inflated, path.name, "the checkpoint's contents")
    if inflated > MAX_INFLATION * path.stat().st_size + (1 << 20):
        raise SharekanError(f"{path.name}: checkpoint inflates {inflated / max(path.stat().st_size, 1):,.0f}-fold "
                            f"to {inflated / 2**20:,.0f} MiB (limit {MAX_INFLATION}-fold); refused as a zip bomb")


def read_torch_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a torch checkpoint with weights_only=True and return its tensors by dotted path (``flatten_checkpoint``)."""
    path = Path(path)
    check_zip_sizes(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad pickles and zips
        if "weights only" not in str(exc).lower() and "weights_only" not in str(exc):
            raise SharekanError(f"{path.name}: not a loadable weights-only checkpoint ({_first_line(exc)})") from None
        raise SharekanError(f"{path.name}: the checkpoint contains code or objects other than tensors "
                            "and was refused (only plain tensors are loaded)") from None
    return flatten_checkpoint(obj, path.name)


MAX_CHECKPOINT_NESTING = 32


def flatten_checkpoint(obj: object, source: str) -> dict[str, torch.Tensor]:
    """Every tensor of a loaded checkpoint under its dotted path: ``{'net': {'layers.0.grid': t}}`` gives
    ``net.layers.0.grid``. Containers (training checkpoints, wrappers, lists) thereby become prefixes that
    the KAN finder sees; numbers, strings and other non-tensor values are left out."""
    tensors: dict[str, torch.Tensor] = {}
    stack: list[tuple[str, object, int]] = [("", obj, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, torch.Tensor):
            tensors[path] = value
            continue
        if isinstance(value, dict):
            children = [(str(key), child) for key, child in value.items()]
        elif isinstance(value, (list, tuple)):
            children = [(str(index), child) for index, child in enumerate(value)]
        else:
            continue
        if depth >= MAX_CHECKPOINT_NESTING:
            raise SharekanError(f"{source}: checkpoint is nested more than {MAX_CHECKPOINT_NESTING} levels deep")
        stack.extend((f"{path}.{key}" if path else key, child, depth + 1) for key, child in reversed(children))
    if not tensors:
        raise SharekanError(f"{source}: checkpoint holds no tensors, so no KAN")
    return tensors


# All project metadata sits under this one key: safetensors writes its metadata map in
# arbitrary order, so several keys would make identical inputs give different bytes.
HEADER_KEY = "sharekan"


def encode_header(fields: dict) -> dict[str, str]:
    """Return safetensors metadata holding ``fields`` as one sorted JSON string."""
    return {HEADER_KEY: json.dumps(fields, sort_keys=True)}


def decode_header(metadata: dict[str, str], path: str | Path) -> dict:
    """Return the project's header fields ({} for a foreign safetensors file)."""
    if HEADER_KEY not in metadata:
        return {}
    try:
        fields = json.loads(metadata[HEADER_KEY])
    except json.JSONDecodeError:
        raise SharekanError(f"{Path(path).name}: header is not valid JSON") from None
    if not isinstance(fields, dict):
        raise SharekanError(f"{Path(path).name}: header is not a JSON object")
    return fields


def header_field(fields: dict, key: str, kind: type, path: str | Path) -> object:
    """Return ``fields[key]`` checked to be of ``kind``, or raise SharekanError naming it."""
    value = fields.get(key)
    if not isinstance(value, kind):
        raise SharekanError(f"{Path(path).name}: header field '{key}' is missing or malformed")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "no details")[:200]
