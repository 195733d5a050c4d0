"""Write a synthetic paper-scale dense KAN head: 1,000 x 1,000 edges, 60 MB in FP32 (bigger than L3).

Spline shapes are realistic rather than random: each edge's coefficients are bias + gain * (one
of a few hundred smooth prototype curves + 10% noise), so k-means on them is meaningful. The file
is large; write it to a temp or bench output folder, never into the repository.

    python bench/paper_head.py OUT.safetensors [--width 1000] [--prototypes 300] [--seed 0]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


from sharekan_core.io import save_model
from sharekan_core.model import KAN, KANConfig


def smooth_prototypes(count: int, num_bases: int, rng: np.random.Generator) -> np.ndarray:
    """(count, D) unit-norm, zero-mean coefficient rows of low-frequency curves (sines, ramps, bumps)."""
    t = np.linspace(-1.0, 1.0, num_bases)
    frequency = rng.uniform(0.3, 2.5, size=(count, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
    ramp = rng.normal(size=(count, 1))
    bump = rng.normal(size=(count, 1)) * np.exp(-((t - rng.uniform(-1, 1, size=(count, 1))) / 0.4) ** 2)
    curves = np.sin(np.pi * frequency * t + phase) + ramp * t + bump
    curves -= curves.mean(axis=1, keepdims=True)
    return curves / np.linalg.norm(curves, axis=1, keepdims=True)


def paper_head(width: int = 1000, prototypes: int = 300, seed: int = 0, grid_size: int = 10, order: int = 3) -> KAN:
    """A one-layer (width -> width) KAN whose splines are noisy copies of smooth prototypes."""
    rng = np.random.default_rng(seed)
    model = KAN(KANConfig((width, width), grid_size, order))
    layer = model.layers[0]
    num_bases = grid_size + order
    edges = width * width
    shapes = smooth_prototypes(prototypes, num_bases, rng)[rng.integers(0, prototypes, size=edges)]
    shapes += 0.1 * rng.normal(size=shapes.shape) / np.sqrt(num_bases)
    gains = rng.lognormal(mean=-1.5, sigma=0.6, size=(edges, 1)) / np.sqrt(width) * 10
    biases = rng.normal(scale=0.02, size=(edges, 1))
    with torch.no_grad():
        layer.spline_weight.copy_(torch.from_numpy((biases + gains * shapes).reshape(width, width, num_bases)))
        layer.spline_scaler.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, size=(width, width))))
        layer.base_weight.copy_(torch.from_numpy(rng.normal(scale=1 / np.sqrt(width), size=(width, width))))
    return model


def main() -> None:
    """Build the head and save it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--prototypes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = paper_head(args.width, args.prototypes, args.seed)
    save_model(model, args.out)
    print(f"wrote {args.out}: {model.num_edges:,} edges, {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
