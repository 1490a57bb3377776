"""Journeys on the generated demo company: stages from a file, the map and its
drill-downs (the customers listed equal the figures), where it tanks, the CLI's formats,
the REST endpoints, and a bad stages file refused with the file, the stage and the key."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import cxloop
from cxloop.api import create_app
from cxloop.cli.main import app
from cxloop.domain.journeys import Table2x2, associate, journey_from_dict
from cxloop.errors import ConfigError
from tests.test_api import make_keys
from tests.test_dashboard import server  # noqa: F401 - the fixture (a uvicorn over `store`)


@pytest.fixture(scope="module")
def store(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("journeys") / "store"
    shutil.copytree(demo_store, home)
    return home


@pytest.fixture(scope="module")
def keys(store: Path) -> dict[str, str]:
    return make_keys(store)


@pytest.fixture(scope="module")
def answers(store: Path) -> Iterator[dict[str, pd.DataFrame]]:
    with cxloop.open(store) as cx, cx.journeys() as j:
        yield {"map": j.stage_map(), "tanks": j.tanks(), "scores": j.stage_scores()}


def test_map_and_its_customers(store: Path, answers: dict[str, pd.DataFrame]) -> None:
    m = answers["map"].set_index("stage")
    assert m.loc["purchase", "customers"] > 0 and m.loc["purchase", "share_of_first"] == 1
    with cxloop.open(store) as cx:
        events = cx.events().execute()
        buyers = events.loc[events["event_type"] == "order_placed", "customer_id"].nunique()
        assert m.loc["purchase", "customers"] == buyers
        for stage in ("purchase", "delivery", "review"):
            reached = cx.journey_customers(stage)
            assert len(reached) == m.loc[stage, "customers"]
            dropped = cx.journey_customers(stage, "dropped")
            assert len(dropped) == m.loc[stage, "dropped"]
            assert set(dropped["customer_id"]) <= set(reached["customer_id"])
        low = cx.journey_customers("review", "low score")
        assert 0 < len(low) <= m.loc["review", "customers"]
        one = cx.journey_path(str(reached["customer_id"].iloc[0]))
        assert one["entered_at"].is_monotonic_increasing
    assert (answers["scores"]["answers"] > 0).all()


def test_tanks_findings_and_their_customers(store: Path, answers: dict[str, pd.DataFrame]) -> None:
    t = answers["tanks"]
    assert len(t) > 0 and set(t["outcome"]) <= {"drop", "low score"}
    assert (t[["with_factor", "without_factor"]].min(axis=1) >= 20).all()
    r = t.iloc[0]
    with cxloop.open(store) as cx:
        which = "dropped" if r["outcome"] == "drop" else "low score"
        behind = cx.journey_customers(r["stage"], which, r["factor"])
        assert len(behind) == r["with_factor_and_outcome"]
        having = cx.journey_customers(r["stage"], "reached", r["factor"])
        assert len(having) == r["with_factor"]


def test_association_matches_a_hand_computation() -> None:
    a = associate(Table2x2(30, 70, 10, 90))
    assert a.odds_ratio == pytest.approx(30 * 90 / (70 * 10))
    assert a.difference == pytest.approx(0.3 - 0.1)
    assert a.or_low < a.odds_ratio < a.or_high
    assert associate(Table2x2(0, 10, 5, 5)).odds_ratio == pytest.approx(0.5 * 5.5 / (10.5 * 5.5))


def test_cli_formats_and_drill_down(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CXLOOP_HOME": str(store)}
    res = runner.invoke(app, ["journeys", "map", "--format", "json"], env=env)
    assert res.exit_code == 0, res.output
    stages = {r["stage"]: r for r in json.loads(res.output)}
    out = tmp_path / "dropped.parquet"
    res = runner.invoke(
        app, ["journeys", "customers", "purchase", "--which", "dropped", "--out", str(out)], env=env
    )
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(out)) == stages["purchase"]["dropped"]
    res = runner.invoke(app, ["journeys", "tanks", "--all", "--format", "csv"], env=env)
    assert res.exit_code == 0 and res.output.startswith("stage,outcome,factor")
    res = runner.invoke(app, ["journeys", "customers", "nowhere"], env=env)
    assert isinstance(res.exception, ConfigError) and "no stage 'nowhere'" in str(res.exception)


def test_stages_from_a_file(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "journeys.toml"
    path.write_text(
        '[[stages]]\nname = "order"\nevents = ["order_placed"]\n\n'
        '[[stages]]\nname = "phone"\nevents = ["contact_inbound"]\nwhere = { channel = "phone" }\n'
    )
    with cxloop.open(store, journeys=str(path)) as cx:
        m = cx.journey_map().set_index("stage")
        events = cx.events().execute()
    assert list(m.index) == ["order", "phone"]
    orders = events[events["event_type"] == "order_placed"].groupby("customer_id")["ts"].min()
    calls = events[(events["event_type"] == "contact_inbound") & (events["channel"] == "phone")]
    calls = calls.merge(orders.rename("first").reset_index(), on="customer_id")
    assert (
        m.loc["phone", "customers"]
        == calls.loc[calls["ts"] >= calls["first"], "customer_id"].nunique()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[stages]]\nname = 'a'\n", "stage 'a': events missing"),
        ("[[stages]]\nname = 'a'\nevents = ['x']\nafter = 'b'\n", "after = 'b' is not a stage"),
        ("[[stages]]\nname = 'a'\nevents = ['x']\ncolour = 1\n", "unknown key 'colour'"),
        ("[[stages]]\nname = 'a'\nevents = 3\n", "stage 'a': events must be a text"),
        ("stages = []\n", "expected [[stages]]"),
    ],
)
def test_bad_stages_are_refused_with_file_stage_and_key(
    store: Path, tmp_path: Path, text: str, message: str
) -> None:
    import tomllib

    with pytest.raises(ConfigError, match=r"journeys\.toml") as err:
        journey_from_dict(tomllib.loads(text), str(tmp_path / "journeys.toml"))
    assert message in str(err.value)


def test_rest_endpoints(
    store: Path, keys: dict[str, str], answers: dict[str, pd.DataFrame]
) -> None:
    h = {"Authorization": f"Bearer {keys['viewer']}"}
    with TestClient(create_app(home=store)) as client:
        m = client.get("/api/v1/journeys/map", headers=h)
        assert m.status_code == 200, m.text
        assert [r["customers"] for r in m.json()] == list(answers["map"]["customers"])
        t = client.get("/api/v1/journeys/tanks", headers=h).json()
        assert len(t) == int(answers["tanks"]["significant"].sum())
        c = client.get(
            "/api/v1/journeys/customers",
            params={"stage": "purchase", "which": "dropped"},
            headers=h,
        )
        assert len(c.json()) == answers["map"].set_index("stage").loc["purchase", "dropped"]
        who = c.json()[0]["customer_id"] if c.json() else "CU-000001"
        p = client.get("/api/v1/journeys/path", params={"customer_id": who}, headers=h)
        assert p.status_code == 200 and p.json()[0]["stage"] == "purchase"
        bad = client.get("/api/v1/journeys/customers", params={"stage": "x"}, headers=h)
        assert bad.status_code == 400 and "no stage 'x'" in bad.json()["error"]["message"]
        nobody = client.get("/api/v1/journeys/path", params={"customer_id": "nobody"}, headers=h)
        assert nobody.status_code == 404


@pytest.mark.slow
def test_journey_page_in_chromium(
    server: str,  # noqa: F811 - the imported fixture
    store: Path,
    keys: dict[str, str],
) -> None:
    """The journey chart drawn by a real Chromium: bars per stage, a click lists the
    customers behind the bar, as many as the map says."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not on PATH")
    sync_api = pytest.importorskip("playwright.sync_api")
    base = server
    with cxloop.open(store) as cx:
        m = cx.journey_map().set_index("stage")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            page.goto(base + "/journeys")
            page.fill("#key", keys["viewer"])
            page.click("button[type=submit]")
            page.wait_for_url(base + "/journeys")
            assert page.locator("h1").inner_text() == "Journeys"
            shown = page.locator("svg.chart")
            assert shown.count() == 2
            box = shown.first.bounding_box()
            assert box is not None and box["width"] > 150 and box["height"] > 30
            assert shown.first.locator("rect").count() == len(m)
            page.locator("svg.chart").first.locator("a").first.click()
            page.wait_for_url("**/journeys?stage=purchase*")
            title = page.locator("#h-customers").inner_text()
            assert title.startswith(f"{m.loc['purchase', 'customers']:,} customers")
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366 + 2
        finally:
            browser.close()
