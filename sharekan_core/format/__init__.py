"""On-disk layout of compressed files and exact byte accounting."""
from .accounting import (COMPONENTS, DENSE_COMPONENTS, StorageReport, dense_bytes, dense_storage, model_summary,
                         storage_report)
from .compressed_file import load_compressed, save_compressed, stored_tensors

__all__ = ["COMPONENTS", "DENSE_COMPONENTS", "StorageReport", "dense_bytes", "dense_storage", "load_compressed",
           "model_summary", "save_compressed", "storage_report", "stored_tensors"]
