"""Several users at once, in a real browser: four chromium sessions on one app server compress, detect and
export at the same time; each sees only its own model and results, equal to what one session alone gets."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from browser_support import (  # app_url: the app server fixture
    CHROMIUM, CHROMIUM_FLAGS, PHOTO, ROOT, RUN_TIMEOUT_MS, VIEWPORT, app_url, open_page,
    rerun, run_count, shown_choice, wait_for_run)

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

DIGITS_LABEL = "Digits classifier (KAN 64-32-10)"


def no_error_shown(page) -> bool:
    """True when the page shows no exception, no error alert and no traceback."""
    return (page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
            and "Traceback" not in page.locator('[data-testid="stMain"]').inner_text())


def metric_value(page, label: str) -> str:
    """The value shown by the metric labelled ``label``."""
    metric = page.locator('[data-testid="stMetric"]', has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def digits_alone(codebook_size: int) -> dict[str, str]:
    """What one session alone gets from compressing the bundled digits KAN at ``codebook_size`` (the page's other
    defaults, task quality measured), formatted as the Compress page shows it."""
    from sharekan_core.compression import CompressionConfig
    from sharekan_core.io import read_model
    from sharekan_core.studio.compression import headline, measure_run, run_compression

    loaded = read_model(ROOT / "sample_models" / "digits_kan.safetensors")
    run = run_compression(loaded.model, "key", "digits", CompressionConfig(codebook_size=codebook_size))
    run = measure_run(run, loaded.model, loaded.metadata.get("task"), None)
    numbers = headline(run)
    return {"Coefficient rel. L2 error": f"{numbers['coef_rel_l2']:.4f}",
            "Spline function rel. RMS error": f"{numbers['function_rel_rms']:.4f}",
            "Compressed model": run.scores.compressed_text}


def pte_alone(codebook_size: int) -> bytes:
    """The compressed .pte one session alone exports for the bundled digits KAN at ``codebook_size`` (portable
    kernels, as the test leaves XNNPACK off); the export is byte-for-byte deterministic."""
    import tempfile

    from sharekan_core.compression import CompressionConfig
    from sharekan_core.io import read_model
    from sharekan_core.runtime.executorch_export import export_pte
    from sharekan_core.runtime.program import KANProgram
    from sharekan_core.studio.compression import run_compression

    model = read_model(ROOT / "sample_models" / "digits_kan.safetensors").model
    run = run_compression(model, "key", "digits", CompressionConfig(codebook_size=codebook_size))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "compressed.pte"
        export_pte(KANProgram(run.result.compressed).eval(), model.layers[0].in_features, path, xnnpack=False)
        return path.read_bytes()


def detections_alone(photo: str) -> dict[str, list]:
    """The shipped dense head's and the SSD teacher's detections on the bundled ``photo`` at the page's default
    threshold, computed by one process alone: {head: [(label, score to 3 places, box rounded)]}."""
    from sharekan_core.detection.weights import HEAD_FILE
    from sharekan_core.io import read_model
    from sharekan_core.studio import detection

    loaded = read_model(ROOT / "sample_models" / "ssd_mobilenet_v2" / HEAD_FILE)
    image = detection.read_image(detection.photos_for()[photo])
    heads = {"dense KAN head": detection.dense_detector(loaded.model, loaded.metadata),
             "SSD teacher": detection.teacher_detector()}
    return {name: [(d.label, round(d.score, 3), [round(v) for v in d.box])
                   for d in head.detect(image, detection.DEFAULT_SCORE)] for name, head in heads.items()}


def shown_detections(document: dict) -> dict[str, list]:
    """The Detect page's downloaded detections in ``detections_alone``'s form."""
    return {name: [(d["label"], round(d["score"], 3), [round(v) for v in d["box"]]) for d in head["detections"]]
            for name, head in document["heads"].items()}


def at_once(pages: dict, actions: dict) -> None:
    """Run each named page's action (one that reruns it) back to back, then wait until every one of those runs has
    finished: the server works on all of them at the same time."""
    before = {name: run_count(pages[name]) for name in actions}
    for action in actions.values():
        action()
    for name in actions:
        wait_for_run(pages[name], before[name])


def nav(page, title: str):
    """An action that opens the page titled ``title`` from the sidebar."""
    return lambda: page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()


def test_four_sessions_at_once_each_see_only_their_own_results(app_url):
    """Issue 31 (several users): four browser sessions on one server at once. Two compress the bundled digits KAN
    with different K, one runs Detect on photos, one compresses and exports .pte programs. Every session shows
    only its own model and results, no error appears, and every result equals what one session alone gets (the
    exported .pte byte for byte)."""
    from playwright.sync_api import sync_playwright

    sizes = {"small K": 128, "large K": 256, "export": 512}
    keys = {"small K": "ArrowLeft", "export": "ArrowRight"}  # one step from the digits KAN's default K = 256
    compressing = list(sizes)
    started, phases = time.monotonic(), {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started - sum(phases.values()), 1)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        pages = {}
        for name in ("small K", "large K", "detect", "export"):  # a context each: separate tabs, separate sessions
            pages[name] = browser.new_context(viewport=VIEWPORT, accept_downloads=True).new_page()
            pages[name].goto(app_url)
        for page in pages.values():
            wait_for_run(page, 0)
        at_once(pages, {name: nav(pages[name], "Model") for name in compressing} | {"detect": nav(pages["detect"], "Detect")})
        radio = lambda page: page.locator('[data-testid="stRadio"] label', has_text=DIGITS_LABEL).click  # noqa: E731
        at_once(pages, {name: radio(pages[name]) for name in compressing})
        at_once(pages, {name: nav(pages[name], "Compress") for name in compressing})
        for name in keys:
            pages[name].get_by_role("slider").first.focus()
        at_once(pages, {name: lambda key=key, name=name: pages[name].get_by_role("slider").first.press(key)
                        for name, key in keys.items()})
        phase("four tabs open: three on Compress, Detect on its first photo")
        photo_box = pages["detect"].locator('[data-testid="stSelectbox"]').first
        photo_box.click()
        at_once(pages, {name: pages[name].get_by_role("button", name="Compress", exact=True).click
                        for name in compressing}
                | {"detect": pages["detect"].get_by_role("option", name=PHOTO, exact=True).click})
        for name, size in sizes.items():
            pages[name].get_by_text(f"Result: K = {size},").first.wait_for(timeout=RUN_TIMEOUT_MS)
        phase("three compressions and a photo pick at once")
        xnnpack = pages["export"].get_by_text("Lower to XNNPACK where it helps")  # off: the export takes half as long
        at_once(pages, {"export": nav(pages["export"], "Runtime"), "small K": nav(pages["small K"], "Model"),
                        "large K": nav(pages["large K"], "Splines")})
        at_once(pages, {"export": xnnpack.click})
        at_once(pages, {"export": pages["export"].get_by_role("button", name="Export both heads to .pte and run them").click,
                        "small K": nav(pages["small K"], "Compress"), "large K": nav(pages["large K"], "Compress")})
        pages["export"].get_by_text(".pte file sizes (MB)").wait_for(timeout=RUN_TIMEOUT_MS)
        phase("an export beside two page visits")

        expected = {name: digits_alone(size) for name, size in sizes.items()}
        phase("single-session references computed")
        for name, size in sizes.items():
            page = pages[name]
            if name == "export":  # the Runtime page exported this session's own compression
                assert page.get_by_text(f"compressed with K = {size},").first.is_visible()
                assert page.get_by_text("Export failed").count() == 0 and no_error_shown(page)
                with rerun(page), page.expect_download() as download:  # the program it exported is a lone session's
                    page.get_by_role("button", name="Download the compressed .pte").click()
                assert Path(download.value.path()).read_bytes() == pte_alone(size)
                open_page(page, "Compress")
            assert page.get_by_text(f"Result: K = {size},").first.is_visible(), name  # its own run, no other's
            assert page.get_by_text("Compare run").count() == 0, name  # one run in its history
            assert {label: metric_value(page, label) for label in expected[name]} == expected[name], name
        detect = pages["detect"]
        assert PHOTO in shown_choice(detect.locator('[data-testid="stSelectbox"]').first)
        assert detect.get_by_text("on the Compress page to compare it here").first.is_visible()  # no one's run
        with rerun(detect), detect.expect_download() as download:
            detect.get_by_role("button", name="Download the detections (JSON)").click()
        document = json.loads(Path(download.value.path()).read_text())
        assert document["image"] == PHOTO and shown_detections(document) == detections_alone(PHOTO)
        for name, page in pages.items():
            assert no_error_shown(page), name
        phase("checks")
        browser.close()
    print(f"four sessions at once (seconds): {phases}, load average {os.getloadavg()[0]:.1f}")
