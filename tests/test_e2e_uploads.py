"""End to end in a real browser, the upload flows: an uploaded KAN through every page with its run history, and
uploads again, evaluation files and photo picks (split from tests/test_e2e_browser.py so pytest-xdist's loadfile
runs the two files side by side, each with its own app server)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sharekan_core.studio.models import content_key

from browser_support import (  # app_url: the app server fixture
    ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, ROOT, RUN_TIMEOUT_MS, VIEWPORT, app_url, open_app, open_page, rerun,
    run_count, screenshot, shown_choice, timed_rerun, wait_for_run)

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def upload(page, path: Path, expect: str | None = None) -> None:
    """Upload ``path`` as this session's model on the Model page and wait until the page shows ``expect``
    (by default, that the file is in use)."""
    open_page(page, "Model")
    if not page.get_by_text("One KAN checkpoint").first.is_visible():
        with rerun(page):
            page.locator('[data-testid="stRadio"] label', has_text="Upload a checkpoint").click()
    page.get_by_text("One KAN checkpoint").wait_for(timeout=RUN_TIMEOUT_MS)
    fingerprint = content_key(path.read_bytes(), b"").removeprefix("sha256:")[:12]  # weights, no pykan config
    outcome = page.get_by_text(expect or f"(content fingerprint {fingerprint})").first
    for _ in range(3):  # a rerun that redraws the uploader as the file is set drops the file; set it again
        before = run_count(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
        try:
            outcome.wait_for(timeout=20_000)
            break
        except Exception:
            wait_for_run(page, before)
    else:
        screenshot(page, "upload_failed")
        outcome.wait_for(timeout=1)
    wait_for_run(page, before)


def compress_at(page, steps_left: int = 0) -> str:
    """Compress the session's model at the default K moved ``steps_left`` to the left; returns the coefficient error."""
    open_page(page, "Compress")
    slider = page.get_by_role("slider").first
    slider.focus()
    if steps_left:
        with rerun(page):
            for _ in range(steps_left):
                slider.press("ArrowLeft")
    size = slider.get_attribute("aria-valuetext") or page.locator('[data-testid="stSliderThumbValue"]').first.inner_text()
    runs_before = page.locator('[data-testid="stSelectbox"]', has_text="Compare run").count()
    with rerun(page):
        page.get_by_role("button", name="Compress", exact=True).click()
    page.get_by_text(f"Result: K = {size},").first.wait_for(timeout=RUN_TIMEOUT_MS)  # this run's result, not the last
    # .first: while Streamlit reruns, a stale copy of the picker can stand beside the new one for a moment
    assert runs_before == 0 or page.get_by_text("Compare run").first.is_visible()
    assert page.locator('[data-testid="stAlert"]', has_text="failed").count() == 0
    return page.locator('[data-testid="stMetric"]', has_text="Coefficient rel. L2 error").inner_text().split("\n")[-1]


def test_uploads_history_and_splines_in_a_real_browser(app_url, tmp_path):
    """Splines before compressing; an uploaded KAN through every page; two runs in the history, compared and
    exported; a different file under the same name shows its own numbers; no request leaves the machine."""
    import csv

    from playwright.sync_api import sync_playwright

    from sharekan_core.io import read_model
    from sharekan_core.studio import splines

    first, second = tmp_path / "first" / "mykan.safetensors", tmp_path / "second" / "mykan.safetensors"
    for target, source in ((first, "digits_kan.safetensors"), (second, "digits_kan_seed1.safetensors")):
        target.parent.mkdir()
        target.write_bytes((ROOT / "sample_models" / source).read_bytes())
    requests = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
        page.on("request", lambda request: requests.append(request.url))
        started = time.monotonic()
        page.goto(app_url)
        wait_for_run(page, 0)
        page.get_by_role("heading", name="SHARe-KAN Studio").first.wait_for(timeout=RUN_TIMEOUT_MS)

        upload(page, first)
        open_page(page, "Splines")  # before any compression: the original splines and the layer's histogram
        assert page.get_by_text("before compression").first.is_visible()
        page.locator(".js-plotly-plot").nth(1).wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        screenshot(page, "splines_before")
        largest = splines.ranked_gains(read_model(first).model, 0, count=1)  # the table's first row
        table = page.locator('[data-testid="stDataFrame"]').nth(1)
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        page.mouse.move(box["x"] + 18, box["y"] + 35 + 17)  # its row marker: header and rows are 35 px high
        page.wait_for_timeout(300)
        with rerun(page):
            page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        pickers = page.locator('[data-testid="stNumberInput"] input')
        assert [pickers.nth(0).input_value(), pickers.nth(1).input_value()] == \
            [str(largest["output"].iloc[0]), str(largest["input"].iloc[0])]

        error_first = compress_at(page)
        compress_at(page, steps_left=2)
        with rerun(page), page.expect_download() as download:  # the download's click reruns the page
            page.get_by_role("button", name="Download the run history (CSV)").click()
        rows = list(csv.DictReader(open(download.value.path(), encoding="utf-8")))
        assert [row["run"] for row in rows] == ["1", "2"] and rows[0]["K"] != rows[1]["K"]
        assert page.get_by_text("Compare run").first.is_visible()
        assert page.locator('[data-testid="stDataFrame"]').count() == 3  # fidelity, history, the two runs compared
        screenshot(page, "compress_history")

        phases = {"upload, splines, two compressions": time.monotonic() - started}
        for title in ("Splines", "Detect", "Runtime", "Scaling"):
            phases[title] = open_page(page, title)
        open_page(page, "Trade-offs")
        for position, removed in ((0, 3), (1, 2)):  # keep the smallest K and one bit-width: a short sweep
            chooser = page.locator('[data-testid="stMultiSelect"] input').nth(position)
            chooser.click()
            for _ in range(removed):
                with rerun(page):
                    chooser.press("Backspace")
            page.keyboard.press("Escape")
        seeds = page.get_by_label("Seeds per point")
        seeds.fill("1")
        with rerun(page):
            seeds.press("Enter")
        with rerun(page):
            page.get_by_role("button", name="Run live sweep").click()
        page.get_by_text("Storage against").wait_for(timeout=RUN_TIMEOUT_MS)
        assert page.get_by_text("Black diamonds, numbered: this session's runs").first.is_visible()
        phases["Trade-offs live sweep"] = time.monotonic() - started - sum(phases.values())
        screenshot(page, "tradeoffs_upload")

        broken = tmp_path / "broken" / "mykan.safetensors"
        broken.parent.mkdir()
        broken.write_bytes(b"\x00" * 64)
        upload(page, broken, expect="Could not load this upload")  # a failed upload names the model still in use
        assert page.get_by_text("Still in use: mykan.safetensors (uploaded)").is_visible()
        assert page.locator('[data-testid="stException"]').count() == 0
        upload(page, second)  # a later upload is read at once: a different model under the same file name
        open_page(page, "Compress")
        assert page.get_by_text("Pick a K and press").is_visible()  # nothing of the first file's results
        assert compress_at(page) != error_first
        browser.close()
    phases["whole flow"] = time.monotonic() - started
    (ARTIFACTS / "upload_flow_seconds.json").write_text(json.dumps(phases, indent=1) + "\n")
    outside = [url for url in requests if not url.startswith((app_url, "data:", "blob:"))]
    assert not outside, outside[:5]


def pick_photo(page, name: str) -> float:
    """Pick the bundled photo ``name`` on the Detect page with one real click; return the seconds until it shows."""
    page.locator('[data-testid="stSelectbox"]').first.click()
    seconds = timed_rerun(page, lambda: page.get_by_role("option", name=name, exact=True).click())
    page.locator('[data-testid="stImage"] img').first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    return seconds


def test_reuploads_evaluation_files_and_photo_picks_in_a_real_browser(app_url, tmp_path):
    """Issue 31: uploading an earlier file again switches back to it; a bad evaluation file keeps the good set in
    use and says so outside the folded section; every bundled-photo pick on Detect takes with one click."""
    import numpy as np
    from playwright.sync_api import sync_playwright

    from sharekan_core.tasks.digits import load_digits_split

    first, second = tmp_path / "a" / "mykan.safetensors", tmp_path / "b" / "mykan.safetensors"
    for target, source in ((first, "digits_kan.safetensors"), (second, "digits_kan_seed1.safetensors")):
        target.parent.mkdir()
        target.write_bytes((ROOT / "sample_models" / source).read_bytes())
    split = load_digits_split()
    good_x, good_y, bad_x = tmp_path / "X.npy", tmp_path / "y.npy", tmp_path / "bad" / "X.npy"
    bad_x.parent.mkdir()
    np.save(good_x, np.asarray(split.x_test[:50], dtype=np.float32))
    np.save(good_y, np.asarray(split.y_test[:50]))
    np.save(bad_x, np.zeros((10, 7), dtype=np.float32))
    with sync_playwright() as playwright:
        browser, page = open_app(playwright, app_url)

        upload(page, first)
        upload(page, second)
        upload(page, first)  # the earlier file again: the page waits for its own fingerprint, in use
        assert page.get_by_text("In use: mykan.safetensors (uploaded)").first.is_visible()

        page.get_by_text("Your evaluation set (optional)").first.click()
        inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        with rerun(page):
            inputs.nth(2).set_input_files(str(good_x))
        with rerun(page):
            inputs.nth(3).set_input_files(str(good_y))
        page.get_by_text("Dense model: accuracy on your evaluation set").first.wait_for(timeout=RUN_TIMEOUT_MS)
        with rerun(page):
            inputs.nth(2).set_input_files(str(bad_x))
        refusal = page.locator('[data-testid="stAlert"]', has_text="These evaluation files were not used")
        refusal.first.wait_for(timeout=RUN_TIMEOUT_MS)
        assert "the earlier set (50 rows) is still in use" in refusal.first.inner_text()
        assert page.get_by_text("Dense model: accuracy on your evaluation set").first.is_visible()
        screenshot(page, "evaluation_refused")

        open_page(page, "Model")
        with rerun(page):
            page.locator('[data-testid="stRadio"] label', has_text="SSD detection head (KAN, 20 VOC classes)").click()
        open_page(page, "Detect")
        with rerun(page):
            page.get_by_text("Show the SSD teacher as a reference column").click()  # the heads alone: quicker picks
        box = page.locator('[data-testid="stSelectbox"]').first
        box.click()
        offered = [option.inner_text() for option in page.get_by_role("option").all()]
        page.keyboard.press("Escape")
        switches = {}
        for name in [n for n in offered if n not in shown_choice(box)][:3]:
            switches[name] = pick_photo(page, name)
            assert name in shown_choice(box), f"the pick of {name} did not take: {shown_choice(box)!r}"
            assert "Dense KAN head:" in " ".join(page.locator('[data-testid="stImageCaption"], '
                                                               '[data-testid="caption"]').all_inner_texts())
        # Issue 31: Detect is interactive. A threshold or teacher-column change re-draws from the heads' outputs
        # already computed (at most 1 s); the first teacher column of a photo runs its head once.
        teacher = page.get_by_text("Show the SSD teacher as a reference column")
        threshold = page.get_by_role("slider").first
        threshold.focus()
        redraws = {"threshold 0.45": timed_rerun(page, lambda: threshold.press("ArrowLeft")),
                   "teacher column on (its head runs once)": timed_rerun(page, teacher.click),
                   "teacher column off": timed_rerun(page, teacher.click),
                   "teacher column on again": timed_rerun(page, teacher.click)}
        threshold.focus()
        redraws["threshold 0.40, with the teacher"] = timed_rerun(page, lambda: threshold.press("ArrowLeft"))
        assert page.locator('[data-testid="stImage"] img').count() == 2  # the dense head and the teacher
        browser.close()
    print("photo switch seconds:", {name: round(seconds, 2) for name, seconds in switches.items()})
    print("re-draw seconds:", {name: round(seconds, 2) for name, seconds in redraws.items()})
    (ARTIFACTS / "photo_switch_seconds.json").write_text(json.dumps({"photo switch": switches, "re-draw": redraws},
                                                                    indent=1) + "\n")
    # The targets are 2.5 s and 1 s; asserted with a margin of two, and only on a quiet host (a shared host's load
    # says nothing about the page): otherwise the numbers above are printed and saved, not judged.
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores:
        print(f"timings not judged: load average {load:.1f} on {cores} cores")
        return
    assert max(switches.values()) <= 2 * 2.5, switches
    assert max(seconds for name, seconds in redraws.items() if "runs once" not in name) <= 2 * 1.0, redraws
