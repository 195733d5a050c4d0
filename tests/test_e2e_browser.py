"""End to end in a real browser: Debian's chromium driven by Playwright against `streamlit run app.py`.

Starts the app on a free port, opens on the Start page, checks that the Model page preselects the detection head,
compresses it
with a chosen K, opens the Detect page, checks that the dense and compressed heads' boxes and numbers are
visible side by side, visits Trade-offs (running the page's live sweep when none is saved), Runtime and
Scaling, and saves a screenshot of every page and each page's time to first paint under tests/artifacts/.
The upload flows are in tests/test_e2e_uploads.py (a file each, so pytest-xdist runs them side by side).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser_support import (  # app_url: the app server fixture
    ARTIFACTS, CHROMIUM, K_STEPS_FROM_SMALLEST, PHOTO, RUN_TIMEOUT_MS, app_url, open_app, open_page, rerun,
    screenshot)

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def test_compress_then_detect_in_a_real_browser(app_url):
    from playwright.sync_api import sync_playwright

    first_paint = {}
    with sync_playwright() as playwright:
        browser, page = open_app(playwright, app_url)
        screenshot(page, "start")
        open_page(page, "Model")
        chosen = page.locator('[data-testid="stRadio"] label', has=page.locator("input:checked"))
        assert "SSD detection head" in chosen.inner_text()
        assert page.get_by_text("Edges (splines)").is_visible()
        screenshot(page, "model")

        first_paint["Compress"] = open_page(page, "Compress")
        slider = page.get_by_role("slider").first
        slider.focus()
        slider.press("Home")
        for _ in range(K_STEPS_FROM_SMALLEST):
            slider.press("ArrowRight")
        assert slider.get_attribute("aria-valuetext") in (None, "4,096") or "4,096" in slider.inner_text()
        with rerun(page):
            page.get_by_text("Measure task quality right after compressing").click()  # the teacher check takes minutes
        with rerun(page):
            page.get_by_role("button", name="Compress", exact=True).click()
        page.get_by_text("Ratio").first.wait_for(timeout=RUN_TIMEOUT_MS)
        ratio = page.locator('[data-testid="stMetric"]', has_text="Ratio").inner_text()
        assert "×" in ratio and float(ratio.split("\n")[-1].rstrip("×")) > 1.0
        assert page.get_by_text("Result: K = 4,096").is_visible()
        screenshot(page, "compress")

        first_paint["Splines"] = open_page(page, "Splines")
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        screenshot(page, "splines")

        first_paint["Detect"] = open_page(page, "Detect")
        page.locator('[data-testid="stSelectbox"]').first.click()
        with rerun(page):  # at the default threshold (detection.DEFAULT_SCORE)
            page.get_by_role("option", name=PHOTO).click()
        images = page.locator('[data-testid="stImage"] img')
        images.nth(2).wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        assert images.count() == 3  # dense and compressed heads side by side, the SSD teacher as reference
        assert all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(3))
        assert page.locator('[data-testid="stDataFrame"]').first.is_visible()
        captions = " ".join(page.locator('[data-testid="stImageCaption"], [data-testid="caption"]').all_inner_texts())
        assert "Dense KAN head" in captions and "Compressed KAN head" in captions and "SSD teacher" in captions
        assert "Dense KAN head: 0 detections" not in captions  # boxes drawn, not an empty photo
        assert page.get_by_text("compressed-domain forward").first.is_visible()
        assert page.locator('[data-testid="stMetric"]', has_text="Agreement").is_visible()
        screenshot(page, "detect")

        first_paint["Trade-offs"] = open_page(page, "Trade-offs")
        if page.get_by_text("No sweep is saved").is_visible():  # no saved sweep: run the page's live one
            with rerun(page):
                page.get_by_role("button", name="Run live sweep").click()
            page.get_by_text("Storage against").wait_for(timeout=RUN_TIMEOUT_MS)
        assert page.get_by_text("Storage against").is_visible()
        assert page.locator('[data-testid="stVegaLiteChart"]').first.is_visible()
        screenshot(page, "tradeoffs")

        first_paint["Runtime"] = open_page(page, "Runtime")
        with rerun(page):
            page.get_by_role("button", name="Measure latency").click()
        page.get_by_text("Median and interquartile range").wait_for(timeout=RUN_TIMEOUT_MS)
        screenshot(page, "runtime")

        first_paint["Scaling"] = open_page(page, "Scaling")
        assert page.get_by_text("From the paper (not measured here)").is_visible()
        screenshot(page, "scaling")

        first_paint["Model"] = open_page(page, "Model")
        browser.close()
    (ARTIFACTS / "first_paint_seconds.json").write_text(json.dumps(first_paint, indent=1) + "\n")
