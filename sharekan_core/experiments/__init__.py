"""Experiments over the compressor: K x bits sweeps, codebook transfer, multi-head scaling."""
from .scaling import multihead_storage_curve
from .sweep import SweepPoint, default_codebook_sizes, pareto_frontier, run_sweep, summarize_sweep
from .task_metric import TaskMetric, task_metric
from .transfer import codebook_transfer

__all__ = ["SweepPoint", "TaskMetric", "codebook_transfer", "default_codebook_sizes", "multihead_storage_curve",
           "pareto_frontier", "run_sweep", "summarize_sweep", "task_metric"]
