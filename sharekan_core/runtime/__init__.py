"""Running models: the compressed-domain forward, ExecuTorch export, and one loader (their cost models: ``costs``)."""
from .compressed_kan import CompressedDomainKAN, CompressedDomainLayer
from .loading import Runnable, load_runnable

__all__ = ["CompressedDomainKAN", "CompressedDomainLayer", "Runnable", "load_runnable"]
