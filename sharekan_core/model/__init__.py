"""KAN model code: the B-spline basis and KAN layers."""
from .bspline import bspline_basis, uniform_grid
from .kan import KAN, KANConfig, KANLayer

__all__ = ["KAN", "KANConfig", "KANLayer", "bspline_basis", "uniform_grid"]
