"""Errors as the studio shows them: one plain sentence a person can act on, never a traceback."""
from __future__ import annotations

import logging
import re

from ..errors import SharekanError

LOG = logging.getLogger("sharekan_core.studio")

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
UNREADABLE = ("could not be read: it is damaged, or not a format the studio reads (this project's .safetensors, "
              "an efficient-kan state_dict in .pt/.pth/.safetensors, or a pykan *_state with its *_config.yml)")
CODE_REFUSED = ("contains Python code (a pickled object) and was refused, because loading it could run that code. "
                "Save only the weights, e.g. torch.save(model.state_dict(), path), and upload that file")


UNEXPECTED = "stopped on an unexpected problem in the studio (the details are in the server's log)"


def plain_message(error: BaseException, name: str | None = None, about_a_file: bool = True) -> str:
    """One line for ``error``: the project's own message cleaned up, anything else a fixed plain sentence.

    ``name`` is the file the error is about; it is said once, at the start, however the message began.
    An unexpected error is logged with its traceback; a person is told the file could not be read
    (``about_a_file``) or that the studio hit a problem.
    """
    text = " ".join(ANSI_ESCAPE.sub("", str(error)).split())
    if "weights_only" in text or "Unsupported global" in text or "pickle" in text.lower():
        sentence = CODE_REFUSED
    elif isinstance(error, MemoryError):
        sentence = "is too large to load into memory"
    elif isinstance(error, (UnicodeDecodeError, RecursionError)):
        sentence = "has a configuration that is not plain UTF-8 YAML of a sensible depth"
    elif not isinstance(error, SharekanError) or not text:
        LOG.error("studio error", exc_info=error)
        sentence = UNREADABLE if about_a_file else UNEXPECTED
    else:
        sentence = ""
    if name is None:
        message = sentence or text
        return message[:1].upper() + message[1:]
    if sentence:
        return f"{name} {sentence}."
    while text.startswith(f"{name}:"):
        text = text[len(name) + 1:].lstrip()
    return f"{name}: {text}"
