"""What the command line shows on stderr: a progress bar on a terminal, and no library chatter."""
from __future__ import annotations

import logging
import os
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator, TextIO

from ..progress import Progress

# torchao logs one "Failed to load ... .so" warning per optional GPU kernel when executorch
# imports it; torch's pytree logs a deprecation note. Neither is anything a user can act on.
QUIET_LOGGERS = ("torchao", "torch.utils._pytree", "torch._export", "torch.export")


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hide third-party FutureWarnings/DeprecationWarnings and the loggers above while a command runs."""
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="torch")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while the block runs.

    ExecuTorch's C++ runtime logs its CPU probing ("[cpuinfo_utils.cpp:71] Reading file ...")
    straight to the descriptor on first use, past every Python-level filter.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def progress_bar(stream: TextIO | None = None) -> Iterator[Progress]:
    """A ``Progress`` callback drawing a tqdm bar on ``stream`` (stderr); it draws nothing unless that is a terminal."""
    from tqdm import tqdm

    bar = tqdm(total=100, file=stream or sys.stderr, disable=None, leave=False,
               bar_format="{percentage:3.0f}% |{bar:24}| {elapsed} {desc}")

    def report(fraction: float, message: str) -> None:
        bar.n = round(100 * min(max(fraction, 0.0), 1.0), 1)
        bar.set_description_str(message, refresh=False)
        bar.refresh()

    try:
        yield report
    finally:
        bar.close()


def announce_first_call(module: object, progress: Progress) -> None:
    """Show the module's first-call note (the fused kernels compile on a first run) in the progress line."""
    note = getattr(module, "first_call_note", lambda: None)()
    if note:
        progress(0.0, note)
