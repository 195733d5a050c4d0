"""Fidelity: how far a reconstructed KAN's splines are from the original's, and the coefficient statistics
they are judged against. (Task metrics, such as accuracy and mAP, are in ``tasks``.)"""
from .report import EdgeFidelity, FidelityReport, LayerFidelity, edge_fidelity, fidelity_report, spline_samples
from .statistics import coefficient_statistics

__all__ = ["EdgeFidelity", "FidelityReport", "LayerFidelity", "coefficient_statistics", "edge_fidelity",
           "fidelity_report", "spline_samples"]
