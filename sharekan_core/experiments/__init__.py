"""Experiments over the compressor: K x bits sweeps, codebook transfer, multi-head scaling."""
from .scaling import multihead_storage_curve, shared_codebook_scaling
from .sweep import SweepPoint, default_codebook_sizes, pareto_frontier, run_sweep, summarize_sweep
from .transfer import codebook_transfer

__all__ = ["SweepPoint", "codebook_transfer", "default_codebook_sizes", "multihead_storage_curve",
           "pareto_frontier", "run_sweep", "shared_codebook_scaling", "summarize_sweep"]
