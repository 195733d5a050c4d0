"""Safe readers for tensor files: safetensors and weights-only torch checkpoints."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open

from ..errors import SharekanError

SAFETENSORS = "safetensors"
TORCH_ZIP = "torch-zip"
MAX_HEADER_BYTES = 100 * 1024 * 1024


def sniff_format(path: str | Path) -> str:
    """Return SAFETENSORS or TORCH_ZIP from the file's first bytes, or raise SharekanError."""
    path = Path(path)
    if not path.is_file():
        raise SharekanError(f"no such file: {path}")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(9)
    if head[:2] == b"PK":
        return TORCH_ZIP
    if len(head) >= 9 and head[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", head[:8])
        if header_len <= min(size - 8, MAX_HEADER_BYTES):
            return SAFETENSORS
        raise SharekanError(f"{path.name}: truncated or corrupt safetensors file (header says {header_len} bytes, file has {size})")
    raise SharekanError(f"{path.name}: unknown format (expected a .safetensors file or a torch checkpoint)")


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Return (tensors, string metadata) of a safetensors file, with corruption as SharekanError."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise SharekanError(f"{path.name}: corrupt or truncated safetensors file ({_first_line(exc)})") from None
    return tensors, metadata


def read_torch_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a torch checkpoint with weights_only=True and return its flat tensor dict."""
    path = Path(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad pickles and zips
        raise SharekanError(f"{path.name}: not a loadable weights-only checkpoint ({_first_line(exc)})") from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SharekanError(f"{path.name}: checkpoint is not a state_dict of tensors")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


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
    return (text[0] if text else type(exc).__name__)[:200]
