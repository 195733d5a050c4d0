"""Fidelity of reconstructed splines and statistics of coefficients."""
from .fidelity import EdgeFidelity, FidelityReport, LayerFidelity, edge_fidelity, fidelity_report, spline_samples
from .statistics import coefficient_statistics

__all__ = ["EdgeFidelity", "FidelityReport", "LayerFidelity", "coefficient_statistics", "edge_fidelity",
           "fidelity_report", "spline_samples"]
