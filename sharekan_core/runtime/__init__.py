"""Running models: dense KANs and compressed files behind one loader."""
from .loading import Runnable, load_runnable

__all__ = ["Runnable", "load_runnable"]
