"""On-disk layout of compressed files and exact byte accounting."""
from typing import Any

from .accounting import COMPONENTS, DENSE_COMPONENTS, StorageReport, dense_bytes, dense_storage, storage_report
from .compressed_file import load_compressed, save_compressed, stored_tensors

__all__ = ["COMPONENTS", "DENSE_COMPONENTS", "StorageReport", "dense_bytes", "dense_storage", "load_compressed",
           "save_compressed", "storage_report", "stored_tensors"]


def __getattr__(name: str) -> Any:
    if name == "model_summary":  # moved to sharekan_core.summary: format/ only reads, writes and accounts
        import warnings

        from ..summary import model_summary

        warnings.warn("sharekan_core.format.model_summary is deprecated; use sharekan_core.summary.model_summary",
                      DeprecationWarning, stacklevel=2)
        return model_summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
