"""The dashboard's outcomes page: retention curves and the value of a kept promise, drawn in
real Chromium (the fixtures are tests/test_dashboard.py's, over a plain copy of the demo)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_dashboard import CHART, keys, png_pixels, server  # noqa: F401


@pytest.fixture(scope="module")
def store(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("dash-outcomes") / "store"
    shutil.copytree(demo_store, home)
    return home


@pytest.mark.slow
def test_outcomes_page_in_chromium(server: str, keys: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    args = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-sync"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(120_000)
            page.goto(server + "/outcomes")
            assert "/login?next=%2Foutcomes" in page.url
            page.fill("#key", keys["viewer"])
            page.click("button[type=submit]")
            page.wait_for_url(server + "/outcomes")
            assert page.locator("h1").inner_text() == "Outcomes"
            html = page.content()
            for heading in (
                "Retention: first promise kept",
                "Retention: first promise broken",
                "The value of a kept promise",
                "repeat purchase within 90d",
            ):
                assert heading in html, heading
            assert html.count(CHART) >= 4
            assert "<script" not in html
            shown = page.locator("svg.chart")
            for i in range(shown.count()):
                box = shown.nth(i).bounding_box()
                assert shown.nth(i).is_visible() and box is not None
                assert box["width"] > 150 and box["height"] > 30, box
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1366 + 2, f"the page scrolls sideways ({wide}px)"
            width, height, pixels = png_pixels(shown.first.screenshot())
            assert width > 150 and height > 30
            background = max(set(pixels), key=pixels.count)
            inked = sum(px != background for px in pixels) / len(pixels)
            assert len(set(pixels)) > 8 and inked > 0.02, (len(set(pixels)), inked)
        finally:
            browser.close()
