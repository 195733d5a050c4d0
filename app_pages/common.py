"""What every page shares: cached heavy objects, the chosen model, and this session's results.

Heavy, read-only objects (models, the detector) go in ``st.cache_resource``; anything one user
produces (uploads, compression runs) goes in this tab's ``StudioSession`` so tabs never see each other's.
Every access to ``st.session_state`` is in this module: the session's own entries through ``session()``,
widget values through ``widget_value``/``set_widget_value``. Everything a session keeps about a model is
keyed by the model's content hash, so a different file uploaded under the same name never meets the first
one's results.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, NoReturn

import streamlit as st

from sharekan_core.io import LoadedModel, read_model
from sharekan_core.studio.compression import CompressionRun
from sharekan_core.studio.evaluation import EvaluationSet
from sharekan_core.studio.jobs import Activity, HeavyJobs, Measured, SharedResults, Watch
from sharekan_core.studio.messages import plain_message
from sharekan_core.studio.models import ChosenModel, file_key, shipped_models
from sharekan_core.studio.session import SESSION_KEY, UPLOAD, StudioSession, configure_threads

COMPRESS_PAGE = "app_pages/compress.py"


def session() -> StudioSession:
    """This tab's StudioSession, made on its first run."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = StudioSession()
    return st.session_state[SESSION_KEY]


class PageStopped(Exception):
    """Raised by ``stop_page``: the page has said why it cannot go on; the frame still ends the run."""


def stop_page() -> NoReturn:
    """Stop the page here (instead of st.stop(), so that app.py's frame still writes its run marker)."""
    raise PageStopped


RELOADED = ("This tab was reloaded (or opened from an earlier tab's address), so it is a new session: it works on "
            "the default model, and the earlier session's uploads, compressions and measurements are gone. Choose "
            "or upload a model on the Model page to go on.")


def run_page(page) -> None:
    """Run ``page`` inside the frame: count the run, note it in the process's activity record, say when a
    reloaded tab starts a new session, and end with a hidden marker of the finished run for the browser test."""
    state = session()
    state.page_runs += 1
    earlier = st.query_params.get("session")
    if state.page_runs == 1 and earlier and earlier != state.session_id:
        state.reloaded = True
    if earlier != state.session_id:
        st.query_params["session"] = state.session_id
    if state.reloaded and not state.history and state.upload is None and state.model_choice is None:
        st.info(RELOADED, icon=":material/refresh:")
    with activity().running(state.session_id):
        try:
            page.run()
        except PageStopped:
            pass
    st.sidebar.html(f'<div id="sharekan-run" data-run="{state.page_runs}" data-state="idle" hidden></div>')


@st.cache_resource
def heavy_jobs() -> HeavyJobs:
    """The process's one queue for heavy jobs (compress, detect, export): one runs at a time."""
    return HeavyJobs(slots=1)


@st.cache_resource
def shared_results() -> SharedResults:
    """Results every session reuses, keyed by model content and settings."""
    return SharedResults(max_entries=48)


@st.cache_resource
def activity() -> Activity:
    """Which sessions are running a page right now."""
    return Activity()


def queued_note(bar) -> Callable[[int], None]:
    """An ``on_queued`` callback that says on ``bar`` that the job waits for others."""
    return lambda ahead: bar.progress(0.0, text=f"queued: {ahead} heavy job(s) from other sessions run first")


def shared_job(key: Hashable, compute: Callable[[], Any], bar=None) -> tuple[Any, bool]:
    """(result, whether another run had computed it): ``compute()`` once per ``key`` in the whole process, one heavy
    job at a time, with "queued" on ``bar`` while it waits."""
    return shared_results().get_or_run(key, compute, heavy_jobs(), queued_note(bar) if bar is not None else None)


def shared_result(key: Hashable) -> Any | None:
    """What ``shared_job`` computed under ``key`` in any session, or None (nothing is computed here)."""
    return shared_results().get(key)


def heavy_job(compute: Callable[[], Any], bar=None) -> Any:
    """``compute()`` in the process's heavy-job queue, with "queued" on ``bar`` while it waits (not cached)."""
    with heavy_jobs().slot(queued_note(bar) if bar is not None else None):
        return compute()


def measured(compute: Callable[[], Any], bar=None) -> Measured:
    """``compute()`` (a timing) in the heavy-job queue, noting whether another session ran a page meanwhile."""
    with heavy_jobs().slot(queued_note(bar) if bar is not None else None):
        watch: Watch
        with activity().watch(session().session_id) as watch:
            value = compute()
    return Measured(value, watch.others_ran)


def widget_value(key: str, default: Any = None) -> Any:
    """The value Streamlit holds for the widget keyed ``key`` (``default`` before it is drawn or seeded)."""
    return st.session_state[key] if key in st.session_state else default


def set_widget_value(key: str, value: Any) -> None:
    """Seed or change the widget keyed ``key`` (before it is drawn, or in a callback)."""
    st.session_state[key] = value


@st.cache_resource(show_spinner="Setting up torch…")
def _threads() -> int:
    return configure_threads()


@st.cache_resource(show_spinner="Loading model…")
def load_shipped(path: str) -> LoadedModel:
    """A shipped model, loaded once per process and shared read-only by all sessions."""
    return read_model(path)


def choose_model(choice: str) -> None:
    """Make ``choice`` (a shipped model's path, or 'upload') this session's model."""
    session().model_choice = choice


def model_choice() -> str | None:
    """This session's model choice (a shipped model's path or 'upload'), None before any."""
    return session().model_choice


def keep_upload(model: ChosenModel) -> None:
    """Make an uploaded model this session's upload (replacing any earlier one)."""
    session().upload = model


def uploaded_model() -> ChosenModel | None:
    """This session's uploaded model, if one loaded."""
    return session().upload


def chosen_model() -> ChosenModel | None:
    """This session's model: its choice, else the first shipped model (the detection head once shipped)."""
    _threads()
    choice = model_choice()
    if choice == UPLOAD and uploaded_model() is not None:
        return uploaded_model()
    shipped = {str(model.path): model for model in shipped_models()}
    if choice not in shipped:
        if not shipped:
            return None
        choice = next(iter(shipped))
    return ChosenModel(file_key(choice), shipped[choice].name, load_shipped(choice))


def _key(model: ChosenModel | str) -> str:
    """The content key of ``model``; a string is a content key or a shipped model's path."""
    if isinstance(model, ChosenModel):
        return model.key
    shipped = {str(entry.path) for entry in shipped_models()}
    return file_key(model) if model in shipped else model


def remember_run(run: CompressionRun) -> None:
    """Keep ``run`` as this session's latest result for its model, and add it to the run history."""
    session().runs[run.model_key] = run
    session().history.append(run)


def latest_run(model: ChosenModel | str) -> CompressionRun | None:
    """This session's latest compression of ``model`` (a chosen model, a content key or a shipped path)."""
    return session().runs.get(_key(model))


def run_history() -> list[CompressionRun]:
    """Every compression this session ran, oldest first."""
    return session().history


def keep_evaluation_set(model: ChosenModel, evaluation: EvaluationSet | None) -> None:
    """Attach (or with None, drop) the user's evaluation set for ``model``."""
    if evaluation is None:
        session().evaluation_sets.pop(model.key, None)
    else:
        session().evaluation_sets[model.key] = evaluation


def evaluation_set(model: ChosenModel) -> EvaluationSet | None:
    """The evaluation set the user uploaded for ``model``, if any."""
    return session().evaluation_sets.get(model.key)


def kept_widget(widget, key: str, scope: str, *args, **kwargs):
    """Draw ``widget`` under ``key`` so that its value survives page visits, per ``scope`` (a model's key).

    Streamlit drops a widget's value at the end of a run that does not draw it (a visit to another page),
    so the value drawn is copied to a plain entry after every draw and put back before the next draw.
    """
    kept = session().kept_widgets.setdefault(scope, {})
    if key not in st.session_state and key in kept:
        st.session_state[key] = kept[key]
        kwargs.pop("value", None), kwargs.pop("index", None)  # a default beside a restored value is refused
    kept[key] = widget(*args, key=key, **kwargs)
    return kept[key]


def show_error(error: BaseException, prefix: str, about_a_file: bool = False) -> None:
    """Show ``error`` as one plain line after ``prefix`` (never a traceback)."""
    st.error(prefix + plain_message(error, about_a_file=about_a_file))


def progress_reporter(bar):
    """A ``progress(fraction, message)`` callback that drives an ``st.progress`` bar."""
    return lambda fraction, message: bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)


def require_model() -> ChosenModel:
    """The chosen model, or stop the page with a plain message when none is available."""
    model = chosen_model()
    if model is None:
        st.error("No model is available: sample_models/ is empty and nothing was uploaded. "
                 "Upload a KAN checkpoint on the Model page.")
        stop_page()
    return model


def require_run(model: ChosenModel, what: str) -> CompressionRun:
    """This session's run for ``model``, or stop the page with a link to the Compress page."""
    run = latest_run(model)
    if run is None:
        st.info(f"Compress **{model.label}** first to see {what}.")
        st.page_link(COMPRESS_PAGE, label="Go to Compress", icon=":material/compress:")
        stop_page()
    return run
