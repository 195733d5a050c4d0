"""The README's and the detector card's result blocks are generated from saved results, never pasted: the
committed text must equal what scripts/readme_tables.py writes from the files in assets/ and the card's reports."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import readme_tables  # noqa: E402


@pytest.mark.parametrize("path", list(readme_tables.generated_documents()), ids=lambda p: str(p.relative_to(SCRIPTS.parent)))
def test_committed_blocks_equal_the_generated_ones(path):
    blocks = readme_tables.generated_documents()[path]
    text = path.read_text()
    assert all(start in text and end in text for start, end, _ in blocks)
    assert readme_tables.regenerated(text, blocks) == text, \
        f"{path.name} is stale: run `python scripts/readme_tables.py --write` after regenerating results"


def test_a_block_is_replaced_between_its_markers_only():
    blocks = (("<!-- a: start -->", "<!-- a: end -->", lambda: "new"),)
    text = "before\n<!-- a: start -->\nold\n<!-- a: end -->\nafter\n"
    assert readme_tables.regenerated(text, blocks) == "before\n<!-- a: start -->\nnew\n<!-- a: end -->\nafter\n"


def test_shortfalls_follow_the_report():
    check = json.loads((readme_tables.DETECTOR_DIR / "check_report.json").read_text())
    met = copy.deepcopy(check)
    met["int8_k4096"]["gap_points"] = 0.4
    missed = copy.deepcopy(check)
    missed["int8_k4096"]["gap_points"] = 1.7
    assert not any("Int8" in line for line in readme_tables.shortfall_lines(met))
    assert any("1.70 points below dense" in line for line in readme_tables.shortfall_lines(missed))
    calibrated = copy.deepcopy(met)
    calibrated["score_ratio_median"] = 1.0
    for row in calibrated["photos"]:
        row["teacher_found"] = row["teacher_detections"]
    assert not any("under-confident" in line or "missed at 0.5" in line
                   for line in readme_tables.shortfall_lines(calibrated))
    uncalibrated = readme_tables.shortfall_lines(check)
    if check["score_ratio_median"] < 0.85:
        assert any(f"median {check['score_ratio_median']}" in line for line in uncalibrated)
