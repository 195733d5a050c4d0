"""What the real-browser tests share: the app server (a module-scoped fixture, one server per test file, so
pytest-xdist can run the files side by side), Debian chromium's flags, and waits on the app's own run marker."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 120
RUN_TIMEOUT_MS = 300_000
VIEWPORT = {"width": 1400, "height": 1600}
PHOTO = "messi5.jpg"  # people in plain view (the SSD teacher: person 0.98)
K_STEPS_FROM_SMALLEST = 11  # the K slider starts at K = 2; eleven steps right choose K = 4,096 (the paper's regime)



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(request):
    """One app server per test file, on a free port, its log in tests/artifacts/streamlit-<file>.log."""
    port = free_port()
    log_path = ARTIFACTS / f"streamlit-{request.module.__name__}.log"
    log = open(ARTIFACTS.mkdir(parents=True, exist_ok=True) or log_path, "w")
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
        pytest.fail(f"streamlit did not start; see {log_path}")
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


RUN_MARKER = "document.querySelector('#sharekan-run')?.dataset.run ?? 0"  # app.py writes it as each page run ends


def run_count(page) -> int:
    """The number of this tab's last finished page run, from the app's hidden marker (0 before any)."""
    return int(page.evaluate(f"() => Number({RUN_MARKER})"))


def wait_for_run(page, after: int) -> int:
    """Wait until the app marks a page run later than ``after`` as finished; return its number.

    The marker is the app's own state, written by app.py's frame at the end of every run (st.stop included), so
    the wait can neither hang on a script-state change the browser never saw nor pass before the run ends."""
    page.wait_for_function(f"() => Number({RUN_MARKER}) > {after}", timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(150)  # Streamlit drops the run's stale elements right after its last one
    return run_count(page)


def timed_rerun(page, action) -> float:
    """Seconds from ``action()`` (one that reruns the page) until the app marks that run finished."""
    before, start = run_count(page), time.monotonic()
    action()
    page.wait_for_function(f"() => Number({RUN_MARKER}) > {before}", timeout=RUN_TIMEOUT_MS)
    seconds = time.monotonic() - start
    page.wait_for_timeout(150)  # as wait_for_run: let the stale elements go before the caller looks
    return seconds


@contextmanager
def rerun(page):
    """Run the block's action (one that reruns the page), then wait until that run has finished."""
    before = run_count(page)
    yield
    wait_for_run(page, before)


def screenshot(page, name: str) -> None:
    """Save the whole page as tests/artifacts/<name>.png; Streamlit scrolls inside its main area, so grow the
    viewport to that area's height first, and give charts and tables time to draw at the new size."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(height, 8000))})
    page.wait_for_timeout(600)  # charts redraw at the new size (1.5 s cost 13 screenshots about 12 s of the suite)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(VIEWPORT)


def open_page(page, title: str) -> float:
    """Open the page titled ``title`` from the sidebar; return the seconds until its script finished."""
    start = time.monotonic()
    with rerun(page):
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0, f"{title} page raised an exception"
    return time.monotonic() - start


def open_app(playwright, app_url: str):
    """A headless chromium on the app's Start page, its first run finished: (browser, page)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(app_url)
    wait_for_run(page, 0)
    page.get_by_role("heading", name="SHARe-KAN Studio").first.wait_for(timeout=RUN_TIMEOUT_MS)
    return browser, page



def shown_choice(box) -> str:
    """The text a select box shows: its label and its current value (which may sit in its input's value)."""
    return box.evaluate("el => [el.innerText, ...Array.from(el.querySelectorAll('input'), i => i.value)].join(' ')")
