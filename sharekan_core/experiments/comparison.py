"""The method comparison: which configurations of every method a sweep measures, as a plan.

SHARe-KAN runs data-blind and data-aware (with the calibration sample) at each K and bit-width, and at
FP32 for the sizes in ``fp32_sizes`` so clustering loss (FP32 against dense) and quantization loss
(Int8 against FP32) can be read apart. Uniform round-to-nearest and GPTQ are deterministic (one run
each); k-means and SHARe-KAN run once per seed.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compression import CompressionConfig
from ..compression.methods import GPTQConfig, KMeansConfig, PruneConfig, UniformConfig
from .sweep import SweepJob, config_job

DATA_AWARE = "data-aware"


@dataclass(frozen=True)
class ComparisonPlan:
    """The configurations of one method-comparison sweep."""

    sharekan: tuple[tuple[int, int], ...]  # (K, bits) pairs
    fp32_sizes: tuple[int, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2)
    blind_seeds: tuple[int, ...] = (0, 1, 2)
    fp32_seeds: tuple[int, ...] = (0, 1, 2)
    uniform_bits: tuple[int, ...] = (8, 6, 4, 3, 2)
    gptq_bits: tuple[int, ...] = (4, 3, 2)
    kmeans_sizes: tuple[int, ...] = ()
    kmeans_bits: tuple[int, ...] = (8,)
    prune_sparsities: tuple[float, ...] = ()
    prune_bits: int = 8


def comparison_jobs(plan: ComparisonPlan) -> list[SweepJob]:
    """Dense first, then every method's jobs in a fixed order (the sweep returns points in this order)."""
    jobs = [SweepJob("dense")]
    pairs = list(plan.sharekan) + [(k, 32) for k in plan.fp32_sizes]
    for k, bits in pairs:
        blind, aware = (plan.fp32_seeds, plan.fp32_seeds) if bits == 32 else (plan.blind_seeds, plan.seeds)
        jobs += [config_job(CompressionConfig(codebook_size=k, bits=bits, seed=s)) for s in blind]
        jobs += [config_job(CompressionConfig(codebook_size=k, bits=bits, seed=s), True, DATA_AWARE) for s in aware]
    jobs += [config_job(UniformConfig(bits=b)) for b in plan.uniform_bits]
    jobs += [config_job(GPTQConfig(bits=b), True) for b in plan.gptq_bits]
    jobs += [config_job(KMeansConfig(codebook_size=k, bits=b, seed=s))
             for k in plan.kmeans_sizes for b in plan.kmeans_bits for s in plan.blind_seeds]
    jobs += [config_job(PruneConfig(sparsity=p, bits=plan.prune_bits)) for p in plan.prune_sparsities]
    return jobs
