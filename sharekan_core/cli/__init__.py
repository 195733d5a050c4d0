"""The command line: ``python -m sharekan_core <command>``."""
from .main import main

__all__ = ["main"]
