"""What every page shares: cached heavy objects, the chosen model, and this session's results.

Heavy, read-only objects (models, the detector) go in ``st.cache_resource``; anything one user
produces (uploads, compression runs) goes in ``st.session_state`` so tabs never see each other's.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from sharekan_core.io import LoadedModel, read_model
from sharekan_core.studio.compression import CompressionRun
from sharekan_core.studio.models import shipped_models
from sharekan_core.studio.session import configure_threads


@dataclass(frozen=True)
class ChosenModel:
    """The model this session works on: a key for its results, a display label, the loaded model, its task."""

    key: str
    label: str
    loaded: LoadedModel

    @property
    def task(self) -> str | None:
        return self.loaded.metadata.get("task")


@st.cache_resource(show_spinner="Setting up torch…")
def _threads() -> int:
    return configure_threads()


@st.cache_resource(show_spinner="Loading model…")
def load_shipped(path: str) -> LoadedModel:
    """A shipped model, loaded once per process and shared read-only by all sessions."""
    return read_model(path)


def choose_model(key: str) -> None:
    """Make ``key`` (a shipped model's path, or 'upload') this session's model."""
    st.session_state["model_key"] = key


def chosen_model() -> ChosenModel | None:
    """This session's model: its choice, else the first shipped model (the detection head once shipped)."""
    _threads()
    key = st.session_state.get("model_key")
    if key == "upload" and "uploaded_model" in st.session_state:
        name, loaded = st.session_state["uploaded_model"]
        return ChosenModel(f"upload:{name}", f"{name} (uploaded)", loaded)
    shipped = {str(model.path): model for model in shipped_models()}
    if key not in shipped:
        if not shipped:
            return None
        key = next(iter(shipped))
    return ChosenModel(key, shipped[key].name, load_shipped(key))


def remember_run(run: CompressionRun) -> None:
    """Keep ``run`` as this session's latest result for its model."""
    st.session_state.setdefault("runs", {})[run.model_key] = run


def latest_run(model: ChosenModel | str) -> CompressionRun | None:
    """This session's latest compression of ``model`` (or of the model with that key), if any."""
    key = model if isinstance(model, str) else model.key
    return st.session_state.get("runs", {}).get(key)


def progress_reporter(bar):
    """A ``progress(fraction, message)`` callback that drives an ``st.progress`` bar."""
    return lambda fraction, message: bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)


def require_model() -> ChosenModel:
    """The chosen model, or stop the page with a plain message when none is available."""
    model = chosen_model()
    if model is None:
        st.error("No model is available: sample_models/ is empty and nothing was uploaded.")
        st.stop()
    return model


def require_run(model: ChosenModel, what: str) -> CompressionRun:
    """This session's run for ``model``, or stop the page with a link to the Compress page."""
    run = latest_run(model)
    if run is None:
        st.info(f"Compress **{model.label}** first to see {what}.")
        st.page_link("pages/2_compress.py", label="Go to Compress", icon=":material/compress:")
        st.stop()
    return run
