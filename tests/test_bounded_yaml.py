"""YAML under bounds (sharekan_core.io.bounded_yaml): billion laughs refused before composing, counts exact."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sharekan_core.errors import SharekanError
from sharekan_core.io.bounded_yaml import brief, check_yaml_bounds, load_bounded_yaml


def laughs(levels: int, fan_out: int = 9) -> str:
    """A "billion laughs" document: each level a list of ``fan_out`` aliases of the level below."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan_out)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan_out)}]" for i in range(1, levels)]
    return "\n".join(lines + [f"width: *a{levels - 1}"]) + "\n"


def expanded_nodes(value: object) -> int:
    """Nodes of ``value`` with every shared object counted once per reference (as an alias expands)."""
    if isinstance(value, dict):
        return 1 + sum(expanded_nodes(k) + expanded_nodes(v) for k, v in value.items())
    if isinstance(value, list):
        return 1 + sum(expanded_nodes(item) for item in value)
    return 1


def test_a_billion_laughs_is_refused_before_it_is_composed(monkeypatch):
    def never(*_):
        raise AssertionError("the document was composed")

    monkeypatch.setattr(yaml, "safe_load", never)
    with pytest.raises(SharekanError) as refused:
        load_bounded_yaml(laughs(9), "settings.yml", max_depth=32, max_nodes=20_000)
    message = str(refused.value)
    assert message.startswith("settings.yml holds more than 20,000 values") and len(message) < 120


def test_a_document_that_refers_to_itself_is_refused():
    with pytest.raises(SharekanError, match="refers to itself"):
        load_bounded_yaml("a: &a [1, *a]\n", "loop.yml", max_depth=32, max_nodes=100)


def test_nesting_deeper_than_the_bound_is_refused():
    with pytest.raises(SharekanError, match="nested more than 3 levels"):
        load_bounded_yaml("x: [[[1]]]\n", "deep.yml", max_depth=3, max_nodes=100)
    assert load_bounded_yaml("x: [[1]]\n", "deep.yml", max_depth=3, max_nodes=100) == {"x": [[1]]}


NESTED = st.recursive(st.integers(0, 9) | st.text("ab", max_size=3),
                      lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text("xyz", min_size=1,
                                                                                                max_size=2), children,
                                                                                        max_size=3), max_leaves=20)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(parts=st.lists(NESTED, min_size=1, max_size=4), picks=st.lists(st.integers(0, 3), min_size=1, max_size=6))
def test_the_bound_is_the_expanded_node_count_exactly(parts, picks):
    """Documents with shared parts (yaml.dump writes them as anchors and aliases) pass at their expanded
    node count and are refused one node below it."""
    document = {"shared": [parts[i % len(parts)] for i in picks], "own": parts}
    text = yaml.dump(document)
    count = expanded_nodes(yaml.safe_load(text))
    assert load_bounded_yaml(text, "doc.yml", max_depth=64, max_nodes=count) == yaml.safe_load(text)
    with pytest.raises(SharekanError, match="once its aliases are expanded"):
        check_yaml_bounds(text, "doc.yml", max_depth=64, max_nodes=count - 1)


def test_brief_keeps_error_messages_short():
    nested = [[[[list(range(100))] * 9] * 9] * 9] * 9
    assert len(brief(nested)) <= 80 and brief([2, 3, 1]) == "[2, 3, 1]"
