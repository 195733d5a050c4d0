"""Gain-Shape-Bias decomposition of spline coefficient vectors: c = bias + gain * shape."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this fraction of the largest gain an edge is treated as flat (a constant spline).
FLAT_RELATIVE_GAIN = 1e-7


@dataclass(frozen=True)
class GainShapeBias:
    """Per-edge gains (E,), unit-norm zero-mean shapes (E, D) and biases (E,); flat edges have gain 0."""

    gains: np.ndarray
    shapes: np.ndarray
    biases: np.ndarray

    @property
    def flat(self) -> np.ndarray:
        """Boolean mask of edges whose spline is constant (gain 0)."""
        return self.gains == 0


def decompose(coefficients: np.ndarray) -> GainShapeBias:
    """Split coefficient vectors (E, D) into gains, shapes and biases."""
    coefficients = np.asarray(coefficients, dtype=np.float64)
    biases = coefficients.mean(axis=1)
    centred = coefficients - biases[:, None]
    gains = np.linalg.norm(centred, axis=1)
    flat = gains <= FLAT_RELATIVE_GAIN * max(float(gains.max(initial=0.0)), np.finfo(np.float64).tiny)
    gains[flat] = 0.0
    shapes = np.zeros_like(centred)
    np.divide(centred, gains[:, None], out=shapes, where=~flat[:, None])
    return GainShapeBias(gains, shapes.astype(np.float32), biases)


def recompose(gains: np.ndarray, shapes: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """Return bias + gain * shape, shape (E, D)."""
    return biases[:, None] + gains[:, None] * shapes


def refit_gains(coefficients: np.ndarray, biases: np.ndarray, codewords: np.ndarray) -> np.ndarray:
    """Least-squares gain of each edge against its codeword: <c - b, u> / ||u||^2 (0 where u = 0)."""
    centred = np.asarray(coefficients, np.float64) - biases[:, None]
    codewords = np.asarray(codewords, np.float64)
    norms = np.einsum("ed,ed->e", codewords, codewords)
    dots = np.einsum("ed,ed->e", centred, codewords)
    gains = np.zeros_like(dots)
    np.divide(dots, norms, out=gains, where=norms > 0)
    return gains
