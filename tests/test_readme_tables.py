"""The README, docs/results.md, docs/benchmarks.md and the detector card are generated from templates and the saved
results, never pasted: the committed text must equal what scripts/readme_tables.py writes, and the numbers in the
generated tables must be the saved ones. The tests read numbers, not wording, so rewording a template breaks none."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import readme_tables  # noqa: E402
from doctables import common, detector_card  # noqa: E402

from sharekan_core import paper  # noqa: E402

DETECTOR_DIR = common.DETECTOR_DIR


def section(text: str, heading: str) -> str:
    """The text under the markdown heading that starts with ``heading``, up to the next heading of any level."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#")
                 and line.lstrip("#").strip().startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start + 1:end])


def table_rows(text: str) -> list[list[str]]:
    """The cells of every body row of the first markdown table in ``text`` (header and rule skipped)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = lines[start:end]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]
            if not set(row) <= set("|-: ")]


def number(cell: str) -> float:
    """The first number in a table cell (thousands separators allowed)."""
    return float(re.search(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", cell).group().replace(",", ""))


def read(relative: str) -> str:
    return (ROOT / relative).read_text()


def test_no_generated_document_is_stale():
    assert readme_tables.stale_documents() == [], "run `python scripts/readme_tables.py --write`"


def test_check_exits_1_naming_a_stale_document(tmp_path, monkeypatch):
    template, document = tmp_path / "t.md.in", tmp_path / "out.md"
    template.write_text("{{ mb: 2500000 }} MB\n")
    monkeypatch.setattr(readme_tables, "ROOT", tmp_path)
    monkeypatch.setattr(readme_tables, "DOCUMENTS", {template: document})
    assert readme_tables.main(["--check"]) == 1
    assert readme_tables.main(["--write"]) == 0
    assert readme_tables.main(["--check"]) == 0
    assert document.read_text().splitlines()[1] == "2.500 MB"


def test_a_placeholder_takes_arguments_and_an_unknown_one_is_refused():
    assert readme_tables.render("a {{ mb: 1000000 }} b {{mb:3e6}}") == "a 1.000 b 3.000"
    with pytest.raises(KeyError, match="no_such_table"):
        readme_tables.render("{{ no_such_table }}")


def test_the_readme_quick_start_runs(tmp_path):
    code = re.search(r"```python\n(.*?)```", read("README.md"), re.S).group(1)
    code = code.replace('"sample_models/', f'"{ROOT}/sample_models/')
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "digits.skan").is_file()


def test_every_command_line_in_the_readme_parses(capsys):
    """Each `python -m sharekan_core ...` line of the README is accepted by the CLI's parser without a deprecation
    warning, so a renamed flag cannot leave the README behind."""
    import shlex

    from sharekan_core.cli.main import build_parser

    lines = [shlex.split(line.split("#", 1)[0])[3:] for line in read("README.md").splitlines()
             if line.strip().startswith("python -m sharekan_core ")]
    assert len(lines) >= 5
    for words in lines:
        build_parser().parse_args(words)
        assert "warning:" not in capsys.readouterr().err, words


def test_the_paper_figures_in_the_readme_are_the_constants():
    intro = read("README.md").split("## ", 1)[0]
    for figure in (paper.DENSE_HEAD_MB, paper.INT8_HEAD_MB, paper.INT8_RATIO, paper.DENSE_VOC_MAP, paper.INT8_VOC_MAP):
        assert f"{figure:g}" in intro


def test_the_headline_table_is_the_saved_operating_points():
    saved = json.loads(read("assets/operating_points/detection_head.json"))
    rows = table_rows(section(read("README.md"), "Headline"))
    assert [int(number(r[0])) for r in rows] == [p["codebook_size"] for p in saved["rows"]]
    for row, point in zip(rows, saved["rows"]):
        assert number(row[1]) == pytest.approx(point["compressed_bytes"] / 1e6, abs=5e-4)
        assert number(row[2]) == pytest.approx(point["ratio"], abs=0.05)
        assert number(row[3]) == pytest.approx(point["teacher_map50"], abs=5e-5)
        assert number(row[5]) == pytest.approx(point["versus_dense_map50"], abs=5e-5)


def test_the_reliability_tally_is_the_saved_one():
    saved = json.loads(read("assets/reliability/summary.json"))
    counts = [int(number(row[1])) for row in table_rows(section(read("docs/results.md"), "Reliability"))]
    assert counts == [saved[k] for k in ("cases", "clean_error", "correct_result", "unclean", "code_executed",
                                         "half_written")]


@pytest.mark.parametrize("name", ["detection_head", "digits_kan"])
def test_the_sweep_tables_are_the_saved_sweeps(name):
    saved = json.loads(read(f"assets/sweeps/{name}.json"))
    rows = table_rows(section(read("docs/results.md").split("## Sweeps", 1)[1], name))
    expected = sorted([r for r in saved["summary"] if r["method"] == "pruning"
                       or (r["method"] == "sharekan" and r["bits"] == 8)],
                      key=lambda r: (r["method"], r["bits"] or 0, r["codebook_size"] or 0, r["sparsity"] or 0))
    assert len(rows) == len(expected)
    for row, point in zip(rows, expected):
        assert number(row[4]) == pytest.approx(point["stored_bytes"] / 1e6, abs=5e-4)
        assert number(row[6]) == pytest.approx(point["metric_mean"], abs=5e-5)


def test_the_runtime_tables_are_the_saved_runs():
    text = read("docs/benchmarks.md")
    runs = sorted((ROOT / "assets" / "runtime").glob("*_head_K*_int8_t*.json"))
    assert runs
    for path in runs:
        saved = json.loads(path.read_text())
        head = path.name.split("_head_")[0]
        heading = f"{head} head, K = {saved['codebook_size']:,}, {saved['host']['threads']} thread"
        rows = table_rows(section(text, heading))
        assert [row[0] for row in rows] == list(saved["batches"])
        for row, cell in zip(rows, saved["batches"].values()):
            speedup = number(row[-5])
            assert speedup == pytest.approx(cell["speedup"], abs=0.005)


def test_the_working_set_table_is_the_saved_curve():
    saved = json.loads(read("assets/runtime/working_set.json"))
    rows = table_rows(section(read("docs/benchmarks.md"), "Working set"))
    assert [int(number(row[0])) for row in rows] == [r["edges"] for r in saved["rows"]]
    for row, point in zip(rows, saved["rows"]):
        assert number(row[5]) == pytest.approx(point["compressed"]["median_ms"], abs=5e-4)
        assert number(row[1]) == point["dense_footprint_bytes"]


def test_the_pte_table_is_the_saved_run():
    saved = json.loads(read("assets/runtime/pte_programs.json"))
    rows = table_rows(section(read("docs/benchmarks.md"), "ExecuTorch programs"))
    ladder = saved["sizes"]["ladder"]
    assert [(int(number(r[1])), int(number(r[2]))) for r in rows] == [(h["file_bytes"], h["pte_bytes"]) for h in ladder]
    programs = table_rows(section(read("docs/benchmarks.md"), "ExecuTorch programs").split("exported whole", 1)[1])
    assert [int(number(r[2])) for r in programs] == [p["pte_bytes"] for p in saved["latency"]["programs"]]


def test_the_convkan_table_is_the_saved_run():
    """Every thread count's table: one row per saved batch, each form's median and each compressed form's ratios."""
    saved = json.loads(read("assets/runtime/convkan_digits_c32.json"))
    text = section(read("docs/benchmarks.md"), "A convolutional KAN on unfolded patches")
    tables = text.split(" thread(s) on ")[1:]
    assert len(tables) == len(saved["threads"])
    for table, run in zip(tables, saved["threads"].values()):
        rows = table_rows(table)
        assert [row[0].split(" ")[0] for row in rows] == list(run["batches"])
        for row, cell in zip(rows, run["batches"].values()):
            forms = list(cell["forms"].values())
            assert [number(c) for c in row[1:1 + len(forms)]] == pytest.approx([f["median_ms"] for f in forms], abs=0.005)
            ratios = [value for name in cell["speedup"] for value in (cell["speedup"][name], cell["speedup_vs_convkan"][name])]
            assert [number(c) for c in row[1 + len(forms):]] == pytest.approx(ratios, abs=0.005)


def test_the_earlier_head_is_kept_in_a_dated_section_of_the_docs_only():
    assert "e2bd786" not in read("README.md")
    earlier = section(read("docs/results.md"), "The head at commit e2bd786")
    assert re.search(r"\d{4}-\d{2}-\d{2}", read("docs/results.md").split("The head at commit e2bd786", 1)[1])
    assert "detection_head_methods_at_e2bd786.json" in earlier


def test_shortfalls_follow_the_report():
    check = json.loads((DETECTOR_DIR / "check_report.json").read_text())
    calibrated = copy.deepcopy(check)
    calibrated["int8_k4096"]["gap_points"] = 0.4
    calibrated["score_ratio_median"] = 1.0
    for row in calibrated["photos"]:
        row["teacher_found"] = row["teacher_detections"]
        row["unmatched_confident"] = 0
    base = detector_card.shortfall_lines(calibrated)

    def added(report: dict) -> list[str]:
        return [line for line in detector_card.shortfall_lines(report) if line not in base]

    assert not any("0.40" in line for line in base)
    missed = copy.deepcopy(calibrated)
    missed["int8_k4096"]["gap_points"] = 1.7
    assert len(added(missed)) == 1 and "1.70" in added(missed)[0]
    uncalibrated = copy.deepcopy(calibrated)
    uncalibrated["score_ratio_median"] = 0.7
    assert len(added(uncalibrated)) == 1 and " 0.7 " in added(uncalibrated)[0]
    one_missed = copy.deepcopy(calibrated)
    one_missed["photos"][0]["teacher_found"] = one_missed["photos"][0]["teacher_detections"] - 1
    wanted = sum(r["teacher_detections"] for r in one_missed["photos"])
    [line] = added(one_missed)
    assert f" {wanted - 1} " in line and f" {wanted} " in line
    assert one_missed["photos"][0]["photo"].rsplit(".", 1)[0] in line


def test_confident_extras_are_listed_only_where_the_report_has_them():
    check = json.loads((DETECTOR_DIR / "check_report.json").read_text())
    clean = copy.deepcopy(check)
    for row in clean["photos"]:
        row["unmatched_confident"] = 0
    extra = copy.deepcopy(clean)
    extra["photos"][0].update(unmatched_confident=1, head=["dog 0.91"], teacher=[])
    added = [line for line in detector_card.shortfall_lines(extra) if line not in detector_card.shortfall_lines(clean)]
    assert len(added) == 1 and "dog 0.91" in added[0]


def test_a_head_score_next_to_the_threshold_keeps_its_third_decimal():
    assert common.head_score(0.498) == "0.498"
    assert common.head_score(0.503) == "0.503"
    assert common.head_score(0.49) == "0.49"
    assert common.head_score(0.917) == "0.92"


def test_the_speed_table_says_when_no_run_is_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(detector_card, "DETECTOR_SPEED", tmp_path / "absent.json")
    assert "|" not in detector_card.detector_speed_table()
    cell = {"median_ms": 10.0, "iqr_ms": 1.0}
    run = {"photo": "messi5.jpg", "bits": 8, "codebook_size": 4096, "host": {"threads": 2, "cpu": "test cpu"},
           "predictor": {n: cell for n in ("original conv predictor", "dense KAN head", "compressed fused kernel")},
           "detect": {"original conv predictor": {"median_ms": 30.0, "iqr_ms": 1.0},
                      "dense KAN head": {"median_ms": 160.0, "iqr_ms": 5.0},
                      "compressed fused kernel": {"median_ms": 80.0, "iqr_ms": 4.0}}}
    (tmp_path / "speed.json").write_text(json.dumps(run))
    monkeypatch.setattr(detector_card, "DETECTOR_SPEED", tmp_path / "speed.json")
    table = detector_card.detector_speed_table()
    dense = next(row for row in table_rows(table) if row[0] == "dense KAN head")
    assert [number(c) for c in dense[1:]] == [10.0, 160.0]
    assert "2.00x" in table and "2.7x" in table  # 160 / 80 and 80 / 30


def test_stage_details_name_what_a_run_varied():
    base = {"seed": 3, "lr": 0.00015}
    assert detector_card.stage_details(base).count(",") == 1 and "3" in detector_card.stage_details(base)
    varied = base | {"adapter_trained": True, "frame_share": 0.3, "plain_share": 0.25}
    text = detector_card.stage_details(varied)
    assert text.count(",") == 4 and "30%" in text and "25%" in text
    assert detector_card.stage_details(base | {"plain_share": 0.0}) == detector_card.stage_details(base)


def test_the_shipped_head_is_one_of_the_listed_candidates():
    """The candidates' table is the runs the shipped head was chosen among: the shipped distillation report is one
    candidate's, and that candidate's check says what check_report.json says, or the card says the shipped head was
    re-measured since."""
    folder = DETECTOR_DIR / "distill_candidates"
    shipped = json.loads((DETECTOR_DIR / "distill_report.json").read_text())
    check = json.loads((DETECTOR_DIR / "check_report.json").read_text())
    chosen = [p for p in sorted(folder.glob("run_*.distill.json")) if json.loads(p.read_text()) == shipped]
    assert len(chosen) == 1
    candidate = json.loads(chosen[0].with_name(chosen[0].name.replace(".distill.", ".check.")).read_text())
    lines = detector_card.candidate_lines()
    if candidate["dense"] == check["dense"]:
        assert candidate["score_ratio_median"] == check["score_ratio_median"]
        assert [r["score_pairs"] for r in candidate["photos"]] == [r["score_pairs"] for r in check["photos"]]
    else:  # re-measured since the choice (the reference's preprocessing): the card says so, and the photos agree
        assert [r["photo"] for r in candidate["photos"]] == [r["photo"] for r in check["photos"]]
        assert any("re-measured" in line for line in lines)
    assert sum(line.startswith("| ") and "| --- |" not in line for line in lines) == 1 + len(list(folder.glob("run_*.check.json")))


def test_every_markdown_file_the_code_and_the_docs_cite_exists():
    """A comment, docstring or link that names a .md file of this repository names one that is there."""
    cited = set()
    for path in [*ROOT.glob("sharekan_core/**/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("scripts/**/*.py")]:
        cited |= {(ROOT, name) for name in re.findall(r"\b((?:docs|bench|scripts|sample_models)/[\w/.-]+\.md)\b",
                                                      path.read_text())}
    for document in (ROOT / "README.md", *ROOT.glob("docs/*.md")):
        cited |= {(document.parent, link) for link in re.findall(r"\]\(([\w/.-]+\.md)\)", document.read_text())}
    assert cited and [name for folder, name in sorted(cited) if not (folder / name).is_file()] == []


def test_the_families_table_is_the_saved_import_checks(capsys):
    """Issue 28: every family row shows scripts/import_checks.py's saved measurements and its path; a file row's
    example is a command line the CLI accepts, an in-place-only row's is an sk.compress_ call, and its family's file
    was refused by the file importer, by name, in the saved run."""
    import ast
    import shlex

    from sharekan_core.cli.main import build_parser

    saved = json.loads(read("assets/families/import_checks.json"))
    text = section(read("README.md"), "KAN families")
    rows = table_rows(text)
    assert [row[0] for row in rows] == [family["family"] for family in saved["families"]]
    for row, family in zip(rows, saved["families"]):
        assert row[2] == family["path"] and row[4] == f"`{family['example']}`"
        assert number(row[5]) == pytest.approx(family["import_rel_error"], rel=0.05, abs=1e-12)
        dense, compressed = (number(part) for part in row[6].split("→"))
        assert (dense, compressed) == pytest.approx((family["dense_accuracy"], family["compressed_accuracy"]), abs=5e-4)
        if family["path"] == "file":
            words = shlex.split(family["example"])
            assert words[:3] == ["python", "-m", "sharekan_core"] and "file_refusal" not in family
            build_parser().parse_args(words[3:])
            assert "warning:" not in capsys.readouterr().err, words
        else:
            assert family["path"] == "in-place only" and family["example"].startswith("sk.compress_(")
            ast.parse(family["example"])
            assert f"does not import yet: {family['family']} (" in family["file_refusal"]
            assert re.search(rf"\b{re.escape(family['family'])}\b[^|]*in-place only", text.split("|\n\n", 1)[1])
    assert {"convkan ConvKAN", "FastKAN", "ChebyKAN"} <= {family["family"] for family in saved["families"]}


@pytest.mark.parametrize("name, heading", [("detection_head_cross_task", "detection_head: across tasks"),
                                           ("detection_head", "detection_head: between two heads")])
def test_the_transfer_tables_and_their_split_are_the_saved_rows(name, heading):
    saved = json.loads(read(f"assets/transfer/{name}.json"))
    text = section(read("docs/results.md"), heading)
    rows = sorted(saved["rows"], key=lambda r: (r["config"]["codebook_size"], -r["config"]["bits"]))
    table = table_rows(text)
    assert [int(number(r[0])) for r in table] == [r["config"]["codebook_size"] for r in rows]
    for cells, row in zip(table, rows):
        assert number(cells[5]) == pytest.approx(100 * row["retained_fraction_of_dense"], abs=0.05)
        if "intervals" in row:
            low, high = row["intervals"]["transferred_codebook"]["retained_ci95"]
            assert cells[6].startswith(f"{low:.1%}–{high:.1%}")
    split = table_rows("| K | codebook |" + text.split("| K | codebook |", 1)[1])
    by_config = {(r["config"]["codebook_size"], r["config"]["bits"]): r for r in rows}
    assert len(split) == 2 * len({k for k, bits in by_config if bits == 8 and (k, 32) in by_config})
    for cells in split:
        k, which = int(number(cells[0])), f"target_{cells[1]}_codebook"
        fp32, int8 = by_config[(k, 32)], by_config[(k, 8)]
        assert number(cells[2]) == pytest.approx(100 * fp32[which] / fp32["target_dense"], abs=0.05)
        assert number(cells[3]) == pytest.approx(100 * int8[which] / int8["target_dense"], abs=0.05)
