"""The project's model format (safetensors + JSON metadata) and the format-sniffing loader."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from safetensors.torch import save as save_bytes

from ..errors import SharekanError
from ..model import KAN
from .atomic import write_bytes_atomic
from .efficient_kan import kan_from_state, looks_like_efficient_kan
from .pykan import looks_like_pykan, pykan_checkpoint_file, pykan_to_layers, read_pykan_config
from .tensors import (SAFETENSORS, decode_header, encode_header, header_field, read_safetensors,
                      read_torch_checkpoint, sniff_format)

MODEL_FORMAT = "sharekan-model"
COMPRESSED_FORMAT = "sharekan-compressed"


@dataclass
class LoadedModel:
    """A KAN read from disk, with the free-form metadata stored beside it."""

    model: KAN
    metadata: dict = field(default_factory=dict)
    source_format: str = MODEL_FORMAT


def save_model(model: KAN, path: str | Path, metadata: dict | None = None) -> None:
    """Write ``model`` as safetensors with its metadata, atomically.

    The bytes are built in memory and written by ``write_bytes_atomic``: safetensors' own
    ``save_file`` keeps a temporary file of its own that a kill would leave behind.
    """
    tensors = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    header = encode_header({"format": MODEL_FORMAT, "version": "1", "metadata": metadata or {}})
    write_bytes_atomic(path, save_bytes(tensors, metadata=header))


def read_model(path: str | Path) -> LoadedModel:
    """Load a KAN from the project's format, an efficient-kan state_dict or a pykan checkpoint (by the prefix
    given to ``saveckpt``, its ``_state`` file or its ``_config.yml``)."""
    path = pykan_checkpoint_file(Path(path))
    kind = sniff_format(path)
    if kind == SAFETENSORS:
        tensors, raw = read_safetensors(path)
        header = decode_header(raw, path)
        if header.get("format") == COMPRESSED_FORMAT:
            raise SharekanError(f"{path.name}: is a compressed SHARe-KAN file, not a dense model (use 'decompress' first)")
        ours = header.get("format") == MODEL_FORMAT
        metadata = header_field(header, "metadata", dict, path) if ours else {}
        source = MODEL_FORMAT if ours else "efficient-kan"
    else:
        tensors, metadata, source = read_torch_checkpoint(path), {}, "efficient-kan"
    if looks_like_pykan(tensors):
        tensors, source = pykan_to_layers(tensors, read_pykan_config(path), path.name), "pykan"
    elif not looks_like_efficient_kan(tensors):
        raise SharekanError(f"{path.name}: tensors are not a KAN (expected 'layers.N.spline_weight' or pykan 'act_fun.N.coef')")
    return LoadedModel(kan_from_state(tensors, path.name), metadata if isinstance(metadata, dict) else {}, source)


def load_model(path: str | Path) -> KAN:
    """Load a KAN from any supported format (see ``read_model``)."""
    return read_model(path).model
