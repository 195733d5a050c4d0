"""The compression methods: each config type registers itself by method name, and its handler by type.

torchao's pattern (``register_quantize_module_handler``): ``compress(model, config)`` looks up the
handler of ``type(config)``, and every handler has the one signature ``CompressionHandler``. The
command line and the studio read the method names, option names, defaults and allowed values from
here and from each config's dataclass fields, so a new method is one config class and one handler::

    @register_config
    @dataclass(frozen=True)
    class MyConfig:
        method: ClassVar[str] = "mine"
        bits: int = 8

    @register_handler(MyConfig)
    def compress_mine(model, config, *, calibration=None, progress=None, metadata=None) -> CompressedKAN: ...

This module imports neither torch nor the handlers, so the command line's ``--help`` stays light.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, TypeVar, Union

from ..errors import SharekanError

if TYPE_CHECKING:
    import numpy as np

    from ..model import KAN
    from ..progress import Progress
    from .compressed import CompressedKAN

# the modules whose import registers the built-in configs, and those that register their handlers
BUILT_IN_CONFIGS = ("sharekan_core.compression.config", "sharekan_core.compression.method_configs")
BUILT_IN_HANDLERS = ("sharekan_core.compression.compressor", "sharekan_core.compression.methods")

CONFIGS: dict[str, type] = {}  # method name (stored in the file header) -> its config class
HANDLERS: dict[type, CompressionHandler] = {}  # config class -> the function that compresses with it


class MethodConfig(Protocol):
    """What every method config is: a frozen dataclass naming its method and its stored widths.

    ``choices`` maps a field to its allowed values (validation, the CLI's and the page's choices);
    ``uses_calibration`` says whether the method reads calibration inputs.
    """

    method: ClassVar[str]
    choices: ClassVar[dict[str, tuple]]
    uses_calibration: ClassVar[bool]

    def component_bits(self, layer: int | None = None) -> dict[str, int]: ...


class CompressionHandler(Protocol):
    """The one signature of every handler: compress ``model`` with ``config``; return the compressed model."""

    def __call__(self, model: KAN, config: Any, *, calibration: np.ndarray | None = None,
                 progress: Progress | None = None, metadata: dict | None = None) -> CompressedKAN: ...


ConfigType = TypeVar("ConfigType", bound=type)


def register_config(config_type: ConfigType) -> ConfigType:
    """Class decorator: register a config dataclass under its ``method`` name (the name files store)."""
    if not dataclasses.is_dataclass(config_type) or not isinstance(getattr(config_type, "method", None), str):
        raise TypeError(f"{config_type.__name__} must be a dataclass with a class attribute 'method'")
    known = CONFIGS.get(config_type.method)
    if known is not None and known.__qualname__ != config_type.__qualname__:
        raise ValueError(f"method {config_type.method!r} is already {known.__name__}'s")
    config_type.choices = dict(getattr(config_type, "choices", {}))
    config_type.uses_calibration = bool(getattr(config_type, "uses_calibration", False))
    CONFIGS[config_type.method] = config_type
    return config_type


def register_handler(config_type: type) -> Callable[[CompressionHandler], CompressionHandler]:
    """Decorator: make the decorated function the handler ``compress`` calls for ``config_type``."""
    def decorate(handler: CompressionHandler) -> CompressionHandler:
        HANDLERS[config_type] = handler
        return handler
    return decorate


def method_configs() -> dict[str, type]:
    """Every registered config class by method name, the built-in ones first."""
    for module in BUILT_IN_CONFIGS:
        import_module(module)
    return CONFIGS


def handler_for(config: object) -> CompressionHandler:
    """The handler registered for ``config``'s type; SharekanError for an object of no registered type."""
    for module in BUILT_IN_HANDLERS:
        import_module(module)
    for kind in type(config).__mro__:
        if kind in HANDLERS:
            return HANDLERS[kind]
    raise SharekanError(f"unknown compression config {type(config).__name__}; a config needs a registered handler")


def config_fields(config_type: type) -> dict[str, tuple[type, Any]]:
    """Each field of ``config_type``: name -> (its value type, None and containers unwrapped; its default)."""
    hints = typing.get_type_hints(config_type)
    return {field.name: (value_type(hints[field.name]), field.default) for field in dataclasses.fields(config_type)}


def value_type(hint: Any) -> type:
    """``int | None`` -> int; ``tuple[int, ...] | None`` -> tuple; ``float`` -> float."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def check_choices(config: MethodConfig) -> None:
    """Raise SharekanError naming the field unless every field in ``config.choices`` holds an allowed value
    (None is allowed where it is the field's default: "not set"). For a tuple field, each of its items."""
    defaults = {field.name: field.default for field in dataclasses.fields(config)}
    for name, allowed in config.choices.items():
        value = getattr(config, name)
        if value is None and defaults[name] is None:
            continue
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, bool) or type(item) is not type(allowed[0]) or item not in allowed:
                raise SharekanError(f"{name} must be one of {', '.join(map(str, allowed))}, got {item!r}")
