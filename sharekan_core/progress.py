"""The progress callback every long operation accepts: ``progress(fraction in [0, 1], message)``."""
from __future__ import annotations

from typing import Callable

Progress = Callable[[float, str], None]


def silent(fraction: float, message: str) -> None:
    """The progress sink used when the caller passes none."""
