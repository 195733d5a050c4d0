"""Compress N task heads against one set of codebooks: fit the codebooks on the first head, assign the rest."""
from __future__ import annotations

from typing import Sequence

from ..errors import SharekanError
from ..model import KAN
from .api import compress
from .compressed import CompressedKAN
from .compressor import compress_with_codebooks
from .config import CompressionConfig


def compress_heads(models: Sequence[KAN], config: CompressionConfig,
                   metadata: Sequence[dict] | None = None) -> list[CompressedKAN]:
    """``models[0]`` compressed with ``config``, then every other model assigned to its codebooks; all the
    heads must share one architecture. The heads are ready for one multi-head bundle (``format.multihead_file``)."""
    if not models:
        raise SharekanError("a multi-head bundle needs at least one head")
    widths = {tuple([m.layers[0].in_features] + [layer.out_features for layer in m.layers]) for m in models}
    if len(widths) > 1:
        raise SharekanError(f"all heads must share one architecture, got {sorted(widths)}")
    metadata = list(metadata) if metadata is not None else [{} for _ in models]
    first = compress(models[0], config, metadata=metadata[0])
    return [first] + [compress_with_codebooks(model, config, first.codebooks, metadata=extra)
                      for model, extra in zip(models[1:], metadata[1:])]
