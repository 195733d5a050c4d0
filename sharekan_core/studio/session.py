"""What one studio session keeps, typed and named by what it holds; process-wide settings applied once; a
small timing helper for the pages.

Nothing here imports Streamlit: ``app_pages/common.py`` keeps one ``StudioSession`` per browser tab in
Streamlit's session state and every page reaches it through that module's helpers.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from ..timing import interleaved

if TYPE_CHECKING:
    import pandas as pd

    from .compression import CompressionRun
    from .evaluation import EvaluationSet
    from .jobs import Measured
    from .models import ChosenModel
    from .runtime import PteExport
    from .scaling import BundleRun

UPLOAD = "upload"  # the model choice meaning "this session's uploaded model"
SESSION_KEY = "studio"  # the one entry of Streamlit's session state that holds a tab's StudioSession


class PhotoUpload(NamedTuple):
    """A photo uploaded on the Detect page: its content key, file name and bytes."""

    key: str
    name: str
    payload: bytes


@dataclass
class StudioSession:
    """Everything one browser tab keeps between its page runs; results are keyed by the model's content key."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    page_runs: int = 0  # finished or started page runs, the marker the browser test waits on
    reloaded: bool = False  # this tab came back with an earlier session's address (a reload)
    model_choice: str | None = None  # a shipped model's path, or UPLOAD
    upload: ChosenModel | None = None  # the model uploaded on the Model page, once it loaded
    upload_outcomes: dict[str, str | None] = field(default_factory=dict)  # upload key -> error, None if it loaded
    basis_upload: ChosenModel | None = None  # an uploaded FastKAN, ChebyKAN or Gram net (compressed on the Model page)
    basis_compression: Any = None  # its latest studio.basis_nets.BasisCompression
    runs: dict[str, CompressionRun] = field(default_factory=dict)  # model key -> latest compression
    history: list[CompressionRun] = field(default_factory=list)  # every compression, oldest first
    evaluation_sets: dict[str, EvaluationSet] = field(default_factory=dict)  # model key -> the user's X, y
    kept_widgets: dict[str, dict[str, Any]] = field(default_factory=dict)  # scope -> widget key -> value
    compared_history_length: int | None = None  # history length when the compare pickers were last reset
    detect_upload: PhotoUpload | None = None
    detect_photo: str | None = None  # the bundled photo last picked on Detect
    latency: dict[str, Measured[pd.DataFrame]] = field(default_factory=dict)  # model key -> eager latency table
    programs: dict[str, Measured[PteExport]] = field(default_factory=dict)  # model key -> exported .pte programs
    sweeps: dict[str, dict] = field(default_factory=dict)  # model key -> live sweep document
    bundle_runs: dict[tuple[str, str], BundleRun] = field(default_factory=dict)  # (model key, source) -> run


def configure_threads() -> int:
    """Use half the cores for torch: on a small shared host, oversubscribed threads are slower than fewer."""
    threads = max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(threads)
    return threads


def median_forward_ms(module: torch.nn.Module, inputs: torch.Tensor, repeats: int = 5) -> float:
    """Median wall time of ``module(inputs)`` in milliseconds, after one warm-up call."""
    with torch.no_grad():
        return interleaved({"forward": lambda: module(inputs)}, repeats)["forward"].median_ms
