"""The daily brief (C8) on the demo company: three answers, ranked candidates with the
customers behind them, and actions whose effect the next brief shows."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import cxloop
from cxloop.errors import ConfigError, NotFoundError
from cxloop.services.brief.daily import act, brief
from tests.test_cli import run, run_here
from tests.test_notify import SmtpServer, smtp  # noqa: F401 - the fixture


@pytest.fixture(scope="module")
def home(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("brief") / "store"
    shutil.copytree(demo_store, target)
    return target


@pytest.fixture(scope="module")
def cx(home: Path) -> Iterator[cxloop.Cxloop]:
    with cxloop.open(home) as handle:
        handle.sync_cases()
        yield handle


def test_three_answers_with_evidence(cx: cxloop.Cxloop) -> None:
    b = brief(cx.workspace, cx.voice())
    customers, employees = b["customers"], b["employees"]
    assert {r["metric"] for r in customers["scores"]} >= {"nps", "csat", "review"}
    assert customers["topics"] and all(t["example"] for t in customers["topics"])
    assert employees["scores"][0]["metric"] == "enps"
    assert employees["subjects"] and employees["latest_comments"]
    candidates = b["candidates"]
    assert b["one_thing"] == candidates[0]
    reach = [c["reach"] for c in candidates]
    assert reach == sorted(reach, reverse=True)
    kinds = {c["kind"] for c in candidates}
    assert {"systemic failure", "cases past their SLA"} <= kinds
    for c in candidates:
        assert c["customers"] >= len(c["customer_ids"]) > 0, c["key"]
        assert c["reach"] == pytest.approx(
            c["control"] * (c["customers"] + c["revenue"] / _aov(cx))
        )
    billing = next(c for c in candidates if "BR-20261006" in c["title"])
    assert billing["customers"] == 41 and billing["control"] == 0.5  # ended > 28 days ago
    cohort = cx.cohort(billing["key"])
    orders = cx.events().filter(lambda t: t.event_type == "order_placed").execute()
    expected = orders[orders["ref"].isin(cohort["ref"])]["amount"].sum()
    assert billing["revenue"] == pytest.approx(expected)
    overdue = [c for c in candidates if c["kind"] == "cases past their SLA"]
    assert all(c["case_ids"] for c in overdue)


def _aov(cx: cxloop.Cxloop) -> float:
    orders = cx.events().filter(lambda t: t.event_type == "order_placed").execute()
    return float(orders.groupby("ref")["amount"].sum().mean())


def test_actions_show_their_effect(cx: cxloop.Cxloop, smtp: SmtpServer) -> None:  # noqa: F811
    v = cx.voice()
    key = next(c["key"] for c in brief(cx.workspace, v)["candidates"] if "BR-2026" in c["title"])
    with pytest.raises(ConfigError, match="--note"):
        act(cx.workspace, key, "  ", "dana", v)
    with pytest.raises(NotFoundError, match="no brief item 'nope'"):
        act(cx.workspace, "nope", "x", "dana", v)
    action = act(cx.workspace, key, "told the billing team; refunds queued", "dana", v)
    assert action["before"]["customers"] == 41
    report = cx.send_outreach(key, smtp.channel())
    assert report.sent == 41
    later = brief(cx.workspace, v)
    assert key not in {c["key"] for c in later["candidates"]}  # everyone was told
    effect = next(a for a in later["actions"] if a["item_key"] == key)
    assert effect["now"] is None and effect["note"].startswith("told the billing team")
    with sqlite3.connect(cx.workspace.state.path) as con, pytest.raises(sqlite3.DatabaseError):
        con.execute("UPDATE brief_actions SET note = 'edited'")


def test_cli_formats(home: Path, cx: cxloop.Cxloop, tmp_path: Path) -> None:
    data = json.loads(run(home, "brief", "--format", "json").stdout)
    assert data["one_thing"]["action"] and data["method"].startswith("Candidates:")
    # the other formats and commands: the same entry point in this process (tests/test_cli.py)
    page = tmp_path / "brief.html"
    run_here(home, "brief", "--format", "html", "--out", str(page))
    text = page.read_text()
    assert text.startswith("<!doctype html>") and text.count("<svg") >= 3
    assert "The one thing to do today" in text and "<script" not in text
    table = run_here(home, "brief").stdout
    assert "1. What customers are saying" in table and "3. The one thing to do today" in table
    key = data["candidates"][1]["key"]
    done = run_here(
        home, "brief", "act", key, "--note", "on it", "--actor", "lee", "--format", "json"
    )
    assert json.loads(done.stdout)["item_key"] == key
    bad = run_here(home, "brief", "--format", "pdf", check=False)
    assert bad.returncode == 2 and "--format" in bad.stderr


def test_a_store_without_voice_still_has_a_brief(tmp_path: Path) -> None:
    events = tmp_path / "orders.csv"
    events.write_text(
        "event_id,customer_id,event_type,ts,ref,amount,due_at\n"
        "o1,c1,order_placed,2026-01-01T10:00:00Z,O1,50,2026-01-03T00:00:00Z\n"
    )
    with cxloop.open(tmp_path / "store") as handle:
        handle.ingest(events)
        b = handle.brief()
    assert b["one_thing"] is None and b["candidates"] == []
    assert b["customers"]["topics"] == [] and b["as_of"].startswith("2026-01-01")
