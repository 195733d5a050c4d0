"""Data-aware SHARe-KAN: codebook, assignment, gains and biases that minimise function-space error.

An edge on input i with coefficients c (D,) computes f(x) = sum_d c_d B_d(x_i). Over calibration
inputs its squared error after coding c as bias * 1 + gain * w is

    (c - bias 1 - gain w)^T H_i (c - bias 1 - gain w),     H_i = E[b(x_i) b(x_i)^T]  (D, D)

so every stage here uses that H_i-norm instead of the plain coefficient norm:

assign   each edge picks the codeword with the least error at its best gain, i.e. the largest
         (w^T H_i r)^2 / (w^T H_i w) with r = c - bias.
refit    gain and bias together by the 2 x 2 normal equations of [1, w] under H_i. The bias column
         is the constant function: the bases sum to 1 inside the grid (partition of unity), so
         1^T H_i 1 is the fraction of calibration inputs that fall in the grid.
update   each codeword w_k solves (sum_e g_e^2 H_e) w_k = sum_e g_e H_e r_e over its edges: one D x D
         weighted least-squares solve per codeword (weights g^2 as in the data-blind k-means).

Why alternate rather than whiten: clustering Cholesky-whitened coefficients is one k-means, but a
centroid in whitened space maps back to a different coefficient vector for every input with a
different H_i, so the codebook would no longer be shared. Alternating keeps one codeword decoding
the same way on every edge, and each step can only lower the calibration error (each is an exact
minimisation of the same objective with the others fixed). A small ridge (RIDGE x the mean of
trace(H_i)/D) keeps H_i invertible; it also lets inputs that never enter the grid (H_i = 0:
bases vanish outside it) fall back to the plain coefficient metric.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch

from .decompose import GainShapeBias

RIDGE = 1e-3
SCORE_FLOATS = 1 << 22  # floats of one (edges, K) score block: bounds memory at large K
APPLY_EDGES = 1 << 15   # edges per gathered (edges, D, D) block of H


@dataclass(frozen=True)
class EdgeMetric:
    """Each edge's function-space metric: H of its input, shared by all edges on that input."""

    moments: np.ndarray        # (M, D, D) float64, H_i + ridge of every input of the group's layers
    input_of_edge: np.ndarray  # (E,) int64, row of ``moments`` for each edge

    @classmethod
    def for_layers(cls, moments: list[np.ndarray], out_features: list[int]) -> EdgeMetric:
        """Metric of the concatenated edges of layers with (in, D, D) moments; edges are (out, in) row-major."""
        stacked = np.concatenate(moments)
        dim = stacked.shape[-1]
        ridge = RIDGE * max(float(np.einsum("mdd->", stacked)) / (len(stacked) * dim), 1e-12)
        stacked = stacked + ridge * np.eye(dim)
        offsets = np.cumsum([0] + [len(m) for m in moments])[:-1]
        input_of_edge = np.concatenate([np.tile(np.arange(len(m)), out) + offset
                                        for m, out, offset in zip(moments, out_features, offsets)])
        return cls(stacked, input_of_edge.astype(np.int64))

    def subset(self, mask: np.ndarray) -> EdgeMetric:
        """The metric of the edges where ``mask`` is true."""
        return EdgeMetric(self.moments, self.input_of_edge[mask])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """H_e v_e for every edge's vector (E, D) -> (E, D) float64."""
        out = np.empty(vectors.shape)
        for start in range(0, len(vectors), APPLY_EDGES):
            rows = slice(start, start + APPLY_EDGES)
            out[rows] = np.einsum("edf,ef->ed", self.moments[self.input_of_edge[rows]], vectors[rows])
        return out


def metric_assign(coefficients: np.ndarray, biases: np.ndarray, codewords: np.ndarray,
                  metric: EdgeMetric) -> np.ndarray:
    """Index (E,) of the codeword that, at its best gain, leaves each edge the least function error.

    Edges are taken input by input: all edges on input m share H_m, so one (edges, D) @ (D, K)
    product against the codewords scaled by 1 / sqrt(w^T H_m w) scores them all, with no gather.
    """
    projected = torch.from_numpy(metric.apply(coefficients - biases[:, None]).astype(np.float32))
    words = torch.from_numpy(np.asarray(codewords, np.float64))
    moments = torch.from_numpy(metric.moments)
    # energy[m, k] = w_k^T H_m w_k, chunked over inputs to bound the (chunk, K, D) intermediate
    chunk = max(1, SCORE_FLOATS // (words.shape[0] * words.shape[1]))
    energy = torch.cat([torch.einsum("kd,mde,ke->mk", words, part, words) for part in moments.split(chunk)])
    inverse_norm = energy.clamp_min(torch.finfo(torch.float64).tiny).rsqrt().to(torch.float32)
    words32 = words.to(torch.float32)
    owner = metric.input_of_edge
    order = np.argsort(owner, kind="stable")
    bounds = np.flatnonzero(np.diff(owner[order])) + 1
    rows = max(1, SCORE_FLOATS // words.shape[0])
    assigned = np.zeros(len(owner), dtype=np.int64)
    for edges in np.split(order, bounds):
        if edges.size == 0:
            continue
        scaled = words32 * inverse_norm[owner[edges[0]]][:, None]
        for part in np.array_split(edges, -(-edges.size // rows)):
            scores = projected[torch.from_numpy(part)] @ scaled.t()
            assigned[part] = (scores * scores).argmax(dim=1).numpy()
    return assigned


def refit_gain_bias(coefficients: np.ndarray, codewords: np.ndarray, metric: EdgeMetric,
                    gains: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(gains, biases) (E,) minimising each edge's H-norm error against its codeword (E, D).

    With ``gains`` given only the bias is refitted.
    """
    coefficients, codewords = np.asarray(coefficients, np.float64), np.asarray(codewords, np.float64)
    h_c = metric.apply(coefficients)
    h_w = metric.apply(codewords)
    ones_ones = np.einsum("mde->m", metric.moments)[metric.input_of_edge]   # 1^T H 1
    ones_w = h_w.sum(axis=1)                                                # 1^T H w
    w_w = np.einsum("ed,ed->e", codewords, h_w)                             # w^T H w
    ones_c = h_c.sum(axis=1)                                                # 1^T H c
    w_c = np.einsum("ed,ed->e", codewords, h_c)                             # w^T H c
    if gains is not None:
        return gains, (ones_c - gains * ones_w) / ones_ones
    det = ones_ones * w_w - ones_w ** 2
    solvable = det > 1e-12 * ones_ones * np.maximum(w_w, 1e-300)
    safe = np.where(solvable, det, 1.0)
    gains = np.where(solvable, (ones_ones * w_c - ones_w * ones_c) / safe, 0.0)
    biases = np.where(solvable, (w_w * ones_c - ones_w * w_c) / safe, ones_c / ones_ones)
    return gains, biases


def update_codewords(coefficients: np.ndarray, biases: np.ndarray, gains: np.ndarray, assigned: np.ndarray,
                     metric: EdgeMetric, codewords: np.ndarray, weighted: bool = True) -> np.ndarray:
    """Each codeword's weighted least-squares fit to its edges under their metrics: (K, D) float64.

    Weighted: (sum g^2 H) w = sum g H r, the total H-norm error. Unweighted: every edge's shape
    r / g counts the same, (sum H) w = sum H r / g. A codeword without edges keeps its value.
    """
    k, dim = codewords.shape
    live = np.abs(gains) > 0
    residual = coefficients[live] - biases[live, None]
    g = gains[live]
    weights = g ** 2 if weighted else np.ones_like(g)
    targets = residual / g[:, None]
    index, owner = assigned[live], metric.input_of_edge[live]
    counts = scipy.sparse.csr_matrix((weights, (index, owner)), shape=(k, len(metric.moments)))
    normal = (counts @ metric.moments.reshape(len(metric.moments), -1)).reshape(k, dim, dim)
    weighted_targets = metric.subset(live).apply(targets) * weights[:, None]
    right = np.stack([np.bincount(index, weights=weighted_targets[:, d], minlength=k) for d in range(dim)], axis=1)
    used = np.bincount(index, weights=weights, minlength=k) > 0
    updated = np.asarray(codewords, np.float64).copy()
    if used.any():
        updated[used] = np.linalg.solve(normal[used], right[used][..., None])[..., 0]
    return updated


def fit_codewords(coefficients: np.ndarray, parts: GainShapeBias, live: np.ndarray, initial: np.ndarray, metric: EdgeMetric,
                  passes: int, weighted: bool = True) -> np.ndarray:
    """Refine ``initial`` codewords (K, D) by ``passes`` rounds of assign, refit and update on the live edges."""
    metric = metric.subset(live)
    biases = parts.biases[live]
    codewords = np.asarray(initial, np.float64)
    for _ in range(passes):
        assigned = metric_assign(coefficients, biases, codewords, metric)
        gains, biases = refit_gain_bias(coefficients, codewords[assigned], metric)
        codewords = update_codewords(coefficients, biases, gains, assigned, metric, codewords, weighted)
    return codewords.astype(np.float32)
