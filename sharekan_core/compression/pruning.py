"""Zero-shot magnitude pruning of whole edges by spline norm: the baseline SHARe-KAN beats."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SharekanError
from ..model import KAN


@dataclass(frozen=True)
class PrunedKAN:
    """The pruned dense model and the kept-edge masks (out, in) per layer; its stored bytes are
    ``format.accounting.pruned_bytes`` (closed form) or the accounting of its file (``PruneConfig``)."""

    model: KAN
    kept: list[np.ndarray]
    sparsity: float


def prune_by_magnitude(model: KAN, sparsity: float) -> PrunedKAN:
    """Remove the ``sparsity`` fraction of edges with the smallest spline norm, per layer."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity < 1.0:
        raise SharekanError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    pruned = copy.deepcopy(model)
    kept_masks = []
    with torch.no_grad():
        for layer in pruned.layers:
            norms = layer.scaled_spline_weight().norm(dim=-1).reshape(-1)
            edges = norms.numel()
            drop = int(round(sparsity * edges))
            keep = torch.ones(edges, dtype=torch.bool)
            if drop:
                # stable sort so equal norms are pruned in index order, deterministically
                keep[torch.sort(norms, stable=True).indices[:drop]] = False
            keep = keep.reshape(layer.out_features, layer.in_features)
            layer.spline_weight.mul_(keep.unsqueeze(-1))
            layer.base_weight.mul_(keep)
            kept_masks.append(keep.numpy())
    return PrunedKAN(pruned, kept_masks, float(sparsity))
