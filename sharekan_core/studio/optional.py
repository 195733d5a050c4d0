"""Looking up parts other packages are still building, so pages can say "not available yet"."""
from __future__ import annotations

import importlib
from typing import Any


def optional_attribute(module: str, name: str) -> Any | None:
    """``module.name`` if that module imports and defines it, else None."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
