"""The funnel over REST and on the dashboard (in a real Chromium), on the hand-worked log
of test_funnels: the drill-down's total equals the step's drop everywhere."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from cxloop.api import create_app
from cxloop.services.access.permissions import create_key
from cxloop.services.recovery.policy import load_policy
from cxloop.workspace.workspace import Workspace
from tests.test_dashboard import free_port, server  # noqa: F401  (fixture used by name)
from tests.test_funnels import THREE, home  # noqa: F401  (fixture used by name)

QUERY = urlencode([("step", s) for s in THREE] + [("window", "30d")])


@pytest.fixture(scope="module")
def keys(home: Path) -> dict[str, str]:  # noqa: F811
    ws = Workspace.open(home)
    try:
        policy = load_policy(None)
        return {r: create_key(ws, f"{r}-funnel", r, policy)[0] for r in ("viewer", "agent")}
    finally:
        ws.close()


@pytest.fixture(scope="module")
def api(home: Path, keys: dict[str, str]) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(home=home)) as client:
        client.headers["Authorization"] = f"Bearer {keys['agent']}"
        yield client


@pytest.fixture
def store(home: Path) -> Path:  # noqa: F811  (what test_dashboard's server serves)
    return home


def test_funnel_endpoints(api: TestClient, keys: dict[str, str]) -> None:
    r = api.get(f"/api/v1/funnel?{QUERY}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["customers"] for s in body["steps"]] == [6, 5, 4]
    assert body["time_to_convert"]["median"] == 60.0
    dropped = api.get(f"/api/v1/funnel/dropped?{QUERY}&dropped=delivered").json()
    assert dropped["total"] == body["steps"][2]["dropped"] == 1
    assert dropped["items"][0]["customer_id"] == "c2"
    viewer = api.get(
        f"/api/v1/funnel/dropped?{QUERY}&dropped=3",
        headers={"Authorization": f"Bearer {keys['viewer']}"},
    ).json()
    assert viewer["total"] == 1  # a viewer may read it (ids are pseudonymous)
    nxt = api.get(f"/api/v1/funnel/next?{QUERY}&dropped=shipped").json()
    assert nxt["customers"] == 1 and nxt["paths"][0]["path"] == "order_delivered → (end)"
    bad = api.get("/api/v1/funnel?step=order_placed&step=order_deliverd")
    assert bad.status_code == 400 and "step 2: field 'event'" in bad.text
    paths = api.get("/api/v1/paths?after=order_placed&steps=2").json()
    assert paths["customers"] == 6 and paths["paths"][0]["customers"] == 2
    on = api.get("/api/v1/paths/customers?after=order_placed&steps=2&rank=1").json()
    assert on["total"] == 2 and {i["customer_id"] for i in on["items"]} == {"c1", "c2"}


@pytest.mark.slow
def test_funnel_page_in_chromium(server: str, keys: dict[str, str]) -> None:  # noqa: F811
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    steps = urlencode([("step", s) for s in THREE] + [("window", "30d")])
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            page.goto(f"{server}/funnel?{steps}")
            page.fill("#key", keys["agent"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/funnel?*")
            assert page.locator("h1").inner_text() == "Funnel"
            chart = page.locator("svg.chart")
            box = chart.first.bounding_box()
            assert chart.first.is_visible() and box is not None and box["width"] > 150
            bars = page.locator("svg.chart rect")
            assert bars.count() == 3
            widths = [bars.nth(i).bounding_box()["width"] for i in range(3)]  # type: ignore[index]
            assert widths[0] > widths[1] > widths[2] > 0  # 6, 5, 4 customers
            assert "67%" in (page.locator("svg.chart").text_content() or "")  # 4 of 6
            page.locator("svg.chart a").nth(1).click()  # the third step's bar
            page.wait_for_url(f"{server}/funnel/dropped?*")
            assert page.locator("#dropped-total").inner_text() == "1"
            assert page.locator("tbody tr").count() == 1
            assert page.locator("tbody a").inner_text() == "c2"
        finally:
            browser.close()
