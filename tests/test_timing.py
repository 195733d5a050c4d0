"""sharekan_core.timing: one quartile definition and interleaved rounds for every bench and page."""
from __future__ import annotations

import statistics

from hypothesis import given, strategies as st

from sharekan_core import timing


@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=2, max_size=50))
def test_quartiles_are_the_inclusive_quantiles(samples):
    q1, median, q3 = timing.quartiles(samples)
    expected = statistics.quantiles(samples, n=4, method="inclusive")
    assert abs(q1 - expected[0]) < 1e-9 and abs(median - statistics.median(samples)) < 1e-9
    assert abs(q3 - expected[2]) < 1e-9


def test_summary_names_every_statistic():
    assert timing.summary([1.0, 2.0, 3.0, 4.0, 5.0]) == {"median_ms": 3.0, "q1_ms": 2.0, "q3_ms": 4.0,
                                                         "iqr_ms": 2.0, "calls": 5}


def test_interleaved_calls_every_form_once_per_round_after_a_warmup():
    order = []
    forms = {name: (lambda name=name: order.append(name) or name) for name in ("a", "b")}
    timed = timing.interleaved(forms, min_rounds=3)
    assert order == ["a", "b"] * 4  # one warm-up round, then three timed
    assert [len(timed[name].samples_ms) for name in forms] == [3, 3]
    assert timed["b"].last == "b"


def test_interleaved_without_warmup_and_with_calls_per_sample():
    counts = {"a": 0}

    def call():
        counts["a"] += 1

    timed = timing.interleaved({"a": call}, min_rounds=2, warmup=False, calls={"a": 5})
    assert counts["a"] == 10 and len(timed["a"].samples_ms) == 2


def test_interleaved_stops_at_max_rounds_within_the_budget():
    timed = timing.interleaved({"a": lambda: None}, min_rounds=1, budget_s=10.0, max_rounds=4)
    assert len(timed["a"].samples_ms) == 4


def test_speed_words():
    assert timing.speed_words(2.0, 1.0) == "2.0 x faster" and timing.speed_words(1.0, 3.0) == "3.0 x slower"
