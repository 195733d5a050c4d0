"""Reading and writing models and compressed files; nothing here does maths."""
from .atomic import atomic_path, write_bytes_atomic
from .model_file import LoadedModel, load_model, read_model, save_model

__all__ = ["LoadedModel", "atomic_path", "load_model", "read_model", "save_model", "write_bytes_atomic"]
