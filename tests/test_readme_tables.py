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
    assert not any("under-confident" in line or "Bundled photos at 0.5" in line
                   for line in readme_tables.shortfall_lines(calibrated))
    uncalibrated = copy.deepcopy(calibrated)
    uncalibrated["score_ratio_median"] = 0.7
    lines = readme_tables.shortfall_lines(uncalibrated)
    assert any("under-confident" in line and "median 0.7 " in line for line in lines)
    assert not any("Bundled photos at 0.5" in line for line in lines)
    one_missed = copy.deepcopy(calibrated)
    one_missed["photos"][0]["teacher_found"] = one_missed["photos"][0]["teacher_detections"] - 1
    lines = readme_tables.shortfall_lines(one_missed)
    wanted = sum(r["teacher_detections"] for r in one_missed["photos"])
    assert any(f"finds {wanted - 1} of the {wanted} teacher boxes" in line
               and one_missed["photos"][0]["photo"].rsplit(".", 1)[0] in line for line in lines)
    assert not any("under-confident" in line for line in lines)


def test_confident_extras_are_listed_only_where_the_report_has_them():
    check = json.loads((readme_tables.DETECTOR_DIR / "check_report.json").read_text())
    clean = copy.deepcopy(check)
    for row in clean["photos"]:
        row["unmatched_confident"] = 0
    assert not any("teacher does not make" in line for line in readme_tables.shortfall_lines(clean))
    extra = copy.deepcopy(clean)
    extra["photos"][0].update(unmatched_confident=1, head=["dog 0.91"], teacher=[])
    line = next(line for line in readme_tables.shortfall_lines(extra) if "teacher does not make" in line)
    assert "dog 0.91" in line and "teacher none" in line


def test_a_head_score_next_to_the_threshold_keeps_its_third_decimal():
    assert readme_tables.head_score(0.498) == "0.498"
    assert readme_tables.head_score(0.503) == "0.503"
    assert readme_tables.head_score(0.49) == "0.49"
    assert readme_tables.head_score(0.917) == "0.92"


def test_the_speed_table_says_when_no_run_is_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(readme_tables, "DETECTOR_SPEED", tmp_path / "absent.json")
    assert "No saved run" in readme_tables.detector_speed_table()
    cell = {"median_ms": 10.0, "iqr_ms": 1.0}
    run = {"photo": "messi5.jpg", "bits": 8, "codebook_size": 4096, "host": {"threads": 2, "cpu": "test cpu"},
           "predictor": {n: cell for n in ("original conv predictor", "dense KAN head", "compressed fused kernel")},
           "detect": {"original conv predictor": {"median_ms": 30.0, "iqr_ms": 1.0},
                      "dense KAN head": {"median_ms": 160.0, "iqr_ms": 5.0},
                      "compressed fused kernel": {"median_ms": 80.0, "iqr_ms": 4.0}}}
    (tmp_path / "speed.json").write_text(json.dumps(run))
    monkeypatch.setattr(readme_tables, "DETECTOR_SPEED", tmp_path / "speed.json")
    table = readme_tables.detector_speed_table()
    assert "| dense KAN head | 10.0 ms (1.0) | 160.0 ms (5.0) |" in table
    assert "2.00x as fast as the dense KAN head" in table and "2.7x as fast as the compressed head" in table


def test_stage_details_name_what_a_run_varied():
    base = {"seed": 3, "lr": 0.00015}
    assert readme_tables.stage_details(base) == " (seed 3, lr 0.00015)"
    varied = base | {"adapter_trained": True, "frame_share": 0.3, "plain_share": 0.25}
    text = readme_tables.stage_details(varied)
    assert "adapter trained" in text and "30% of the draws" in text and "25% of fresh views whole" in text
    assert "fresh views" not in readme_tables.stage_details(base | {"plain_share": 0.0})


def test_the_shipped_head_is_one_of_the_listed_candidates():
    """The candidates' table is the runs the shipped head was chosen among: the shipped distillation report is one
    candidate's, and that candidate's check says what check_report.json says."""
    folder = readme_tables.DETECTOR_DIR / "distill_candidates"
    shipped = json.loads((readme_tables.DETECTOR_DIR / "distill_report.json").read_text())
    check = json.loads((readme_tables.DETECTOR_DIR / "check_report.json").read_text())
    chosen = [p for p in sorted(folder.glob("run_*.distill.json")) if json.loads(p.read_text()) == shipped]
    assert len(chosen) == 1
    candidate = json.loads(chosen[0].with_name(chosen[0].name.replace(".distill.", ".check.")).read_text())
    assert candidate["dense"] == check["dense"] and candidate["score_ratio_median"] == check["score_ratio_median"]
    assert [r["score_pairs"] for r in candidate["photos"]] == [r["score_pairs"] for r in check["photos"]]
    lines = readme_tables.candidate_lines()
    assert sum(line.startswith("| ") and "| --- |" not in line for line in lines) == 1 + len(list(folder.glob("run_*.check.json")))
