"""Effort over the REST API and on the dashboard (TestClient, and real Chromium), over the
real IBM care threads: the drill-down totals equal the figures they come from."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import cxloop
from cxloop.api import create_app
from cxloop.services.access.permissions import create_key
from cxloop.services.recovery.policy import load_policy
from cxloop.workspace.workspace import Workspace
from tests.conftest import shared_dataset
from tests.test_dashboard import free_port

IBM = "support_conversations/ibm_twitter_customer_care/dev.json"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("effort-api") / "store"
    with cxloop.open(store) as cx:
        cx.ingest(shared_dataset(IBM), source="ibm-care")
    return store


@pytest.fixture(scope="module")
def keys(home: Path) -> dict[str, str]:
    ws = Workspace.open(home)
    try:
        return {r: create_key(ws, f"{r}-e", r, load_policy(None))[0] for r in ("viewer", "agent")}
    finally:
        ws.close()


@pytest.fixture(scope="module")
def api(home: Path, keys: dict[str, str]) -> Iterator[Any]:
    with TestClient(create_app(home=home)) as client:

        def get(path: str, role: str = "viewer", status: int = 200) -> Any:
            r = client.get(path, headers={"Authorization": f"Bearer {keys[role]}"})
            assert r.status_code == status, r.text[:500]
            return r.json()

        yield get


def test_figures_and_the_issues_and_customers_behind_them(api: Any) -> None:
    overall = api("/api/v1/effort")[0]
    months = api("/api/v1/effort?by=month")
    assert sum(m["issues"] for m in months) == overall["issues"] == 544
    march = next(m for m in months if m["value"] == "2020-03")
    issues = api("/api/v1/effort/issues?by=month&value=2020-03&limit=1000")
    assert issues["total"] == len(issues["items"]) == march["issues"]
    assert {i["month"] for i in issues["items"]} == {"2020-03"}
    people = api("/api/v1/effort/customers?by=month&value=2020-03&limit=1000")
    assert people["total"] == march["customers"]
    assert sum(c["issues"] for c in people["items"]) == march["issues"]
    repeats = api("/api/v1/effort/issues?flag=repeat&limit=1")
    assert repeats["total"] == overall["repeat"] > 0
    assert api("/api/v1/effort?by=week", status=422)["error"]
    assert api("/api/v1/effort/issues?by=month", status=400)["error"]["message"]


def test_effort_pages_link_each_figure_to_its_issues(home: Path, keys: dict[str, str]) -> None:
    with TestClient(create_app(home=home)) as client:
        client.cookies.clear()
        page = client.get("/effort")
        assert page.status_code == 200 and "/login" in str(page.url)
        from cxloop.api.deps import COOKIE
        from cxloop.services.access.permissions import sign_in

        ws = Workspace.open(home)
        try:
            opened = sign_in(ws, keys["viewer"], 1.0)
        finally:
            ws.close()
        assert opened is not None
        client.cookies.set(COOKIE, opened[0])
        html = client.get("/effort?by=month").text
        assert html.count('<svg class="chart"') == 5
        assert 'href="/effort/issues?by=month&amp;value=2020-03"' in html
        drill = client.get("/effort/issues?by=month&value=2020-04").text
        assert drill.count('<tr class="issue">') == 33


@pytest.mark.slow
def test_effort_page_in_chromium(home: Path, keys: dict[str, str], tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    code = (
        "import sys, uvicorn\nfrom cxloop.api import create_app\n"
        "uvicorn.run(create_app(home=sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]),"
        " log_level='warning')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(home), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        _drive(sync_api, chromium, base, keys["viewer"], tmp_path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _drive(sync_api: Any, chromium: str, base: str, key: str, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            page.goto(base + "/effort?by=month")
            page.fill("#key", key)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/effort?by=month")
            assert page.locator("h1").inner_text() == "Effort per issue"
            shown = page.locator("svg.chart")
            assert shown.count() == 5
            for i in range(shown.count()):
                box = shown.nth(i).bounding_box()
                assert box is not None and box["width"] > 150 and box["height"] > 30, box
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1366 + 2, f"the page scrolls sideways ({wide}px)"
            page.screenshot(path=str(tmp_path / "effort.png"), full_page=True)
            # a bar of the issues chart leads to the issues it counts
            row = page.locator("table tbody tr", has_text="2020-04")
            figure = int(row.locator("td").nth(1).inner_text())
            row.locator("td").nth(1).locator("a").click()
            page.wait_for_url("**/effort/issues?by=month&value=2020-04")
            assert page.locator("tr.issue").count() == figure == 33
            assert page.locator("#issue-total").inner_text() == "33"
        finally:
            browser.close()
