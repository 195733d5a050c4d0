"""sharekan_core.summary: a dense KAN's widths, edges and dense bytes; format/ keeps only a deprecated alias."""
from __future__ import annotations

import pytest

from sharekan_core import format as file_format
from sharekan_core.format.accounting import dense_bytes
from sharekan_core.summary import model_summary


def test_model_summary_counts_the_dense_model(small_kan):
    summary = model_summary(small_kan)
    assert summary["widths"] == [8, 6, 3] and summary["edges"] == 8 * 6 + 6 * 3
    assert [layer["edges"] for layer in summary["layers"]] == [48, 18]
    assert summary["dense_bytes"] == dense_bytes(small_kan) == sum(layer["dense_bytes"] for layer in summary["layers"])


def test_format_model_summary_is_a_deprecated_alias(small_kan):
    with pytest.warns(DeprecationWarning, match="sharekan_core.summary.model_summary"):
        alias = file_format.model_summary
    assert alias is model_summary
    with pytest.raises(AttributeError):
        file_format.no_such_name  # noqa: B018
