"""End to end in a real browser: Debian's chromium driven by Playwright against `streamlit run app.py`.

Starts the app on a free port, compresses the default model with a chosen K, opens the Detect page,
checks that boxes and numbers are visible, and saves screenshots under tests/artifacts/.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 120
RUN_TIMEOUT_MS = 300_000
K_STEPS_FROM_SMALLEST = 3  # the K slider starts at K = 2; three steps right choose K = 16

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = free_port()
    log = open(ARTIFACTS.mkdir(parents=True, exist_ok=True) or ARTIFACTS / "streamlit.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("streamlit did not start; see tests/artifacts/streamlit.log")
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def wait_until_idle(page) -> None:
    """Wait until Streamlit has finished running the page's script (the app root reports 'notRunning')."""
    page.wait_for_timeout(300)  # let a just-triggered rerun reach the browser
    page.wait_for_function(
        "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=RUN_TIMEOUT_MS)
    page.locator('[data-testid="stSpinner"]').first.wait_for(state="hidden", timeout=RUN_TIMEOUT_MS)


def open_page(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_until_idle(page)


def test_compress_then_detect_in_a_real_browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(app_url)
        page.get_by_role("heading", name="Model").first.wait_for(timeout=RUN_TIMEOUT_MS)
        wait_until_idle(page)
        assert page.get_by_text("Edges (splines)").is_visible()
        page.screenshot(path=str(ARTIFACTS / "model.png"), full_page=True)

        open_page(page, "Compress")
        slider = page.get_by_role("slider").first
        slider.focus()
        slider.press("Home")
        for _ in range(K_STEPS_FROM_SMALLEST):
            slider.press("ArrowRight")
        assert slider.get_attribute("aria-valuetext") in (None, "16") or "16" in slider.inner_text()
        page.get_by_role("button", name="Compress").click()
        page.get_by_text("Ratio").first.wait_for(timeout=RUN_TIMEOUT_MS)
        wait_until_idle(page)
        ratio = page.locator('[data-testid="stMetric"]', has_text="Ratio").inner_text()
        assert "×" in ratio and float(ratio.split("\n")[-1].rstrip("×")) > 1.0
        assert page.get_by_text("Result: K = 16").is_visible()
        page.screenshot(path=str(ARTIFACTS / "compress.png"), full_page=True)

        open_page(page, "Splines")
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        wait_until_idle(page)
        page.screenshot(path=str(ARTIFACTS / "splines.png"), full_page=True)

        open_page(page, "Detect")
        images = page.locator('[data-testid="stImage"] img')
        images.first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        assert images.first.evaluate("img => img.complete && img.naturalWidth > 0")
        table = page.locator('[data-testid="stDataFrame"]').first
        assert table.is_visible()
        captions = " ".join(page.locator('[data-testid="stImageCaption"], [data-testid="caption"]').all_inner_texts())
        assert "detections" in captions
        page.screenshot(path=str(ARTIFACTS / "detect.png"), full_page=True)
        browser.close()
