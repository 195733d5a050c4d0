"""YAML read under bounds: nesting depth, and node count with every alias expanded.

``yaml.safe_load`` shares an aliased node instead of copying it, so a "billion laughs" file of a
few hundred bytes composes quickly into a value whose expansion holds billions of nodes; the
first code that walks or prints it (a check, an error message) then blocks. The bounds are
checked from the parser's event stream, before the (recursive) composer builds anything.
"""
from __future__ import annotations

import reprlib

from ..errors import SharekanError

_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxdict, _BRIEF.maxstring, _BRIEF.maxother = 2, 4, 4, 24, 24


def load_bounded_yaml(text: str, source: str, max_depth: int, max_nodes: int) -> object:
    """The YAML document in ``text`` (``yaml.safe_load``); SharekanError starting with ``source`` (the document
    as errors name it) if it nests deeper than ``max_depth``, holds more than ``max_nodes`` nodes once aliases are
    expanded, or refers to itself."""
    import yaml

    check_yaml_bounds(text, source, max_depth, max_nodes)
    return yaml.safe_load(text)


def check_yaml_bounds(text: str, source: str, max_depth: int, max_nodes: int) -> None:
    """Raise SharekanError if ``text`` breaks ``load_bounded_yaml``'s bounds; YAML syntax errors pass through."""
    import yaml

    sizes: dict[str, int] = {}         # anchor -> nodes of its value, expanded
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes counted before it) per open collection
    nodes = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= max_depth:
                raise SharekanError(f"{source} is nested more than {max_depth} levels deep")
            open_nodes.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = nodes - before
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise SharekanError(f"{source} refers to itself (alias *{brief(event.anchor)} inside its own value)")
            nodes += sizes.get(event.anchor, 1)  # an unknown anchor is the composer's error to report
        if nodes > max_nodes:
            raise SharekanError(f"{source} holds more than {max_nodes:,} values once its aliases are expanded")


def brief(value: object, limit: int = 80) -> str:
    """A short repr of ``value`` for an error message: two levels deep, a few items each, at most ``limit`` characters."""
    text = _BRIEF.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
