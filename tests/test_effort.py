"""Effort per issue on the demo company and on the real IBM care threads, checked against
plain computations from the events and the raw JSON; drill-down totals; the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.domain.effort import DIMENSIONS, FLAGS, WAIT_PARTS, effort_rules_from_dict
from cxloop.errors import ConfigError
from cxloop.services.journeys import effort
from cxloop.store.cases import CaseStore
from tests.conftest import shared_dataset

IBM = "support_conversations/ibm_twitter_customer_care/dev.json"


@pytest.fixture(scope="module")
def demo(demo_store: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's issues, and its events read back as plain rows."""
    with cxloop.open(demo_store) as cx:
        rows = cx.effort_issues()
        ev = cx.events()
        cols = ["event_id", "customer_id", "event_type", "ts", "ref", "channel", "attrs"]
        events = ev.select(*cols).execute()
    return rows, events


def _ingest_ibm(home: Path) -> Path:
    with cxloop.open(home) as cx:
        cx.ingest(shared_dataset(IBM), source="ibm-care")
    return home


@pytest.fixture(scope="module")
def ibm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _ingest_ibm(tmp_path_factory.mktemp("ibm") / "store")


@pytest.fixture(scope="module")
def ibm(ibm_home: Path) -> pd.DataFrame:
    with cxloop.open(ibm_home) as cx:
        return cx.effort_issues()


def _parts_add_up(rows: pd.DataFrame) -> None:
    total = rows[list(WAIT_PARTS)].sum(axis=1)
    assert (total - rows.elapsed_hours).abs().max() < 1e-6
    assert (rows[list(WAIT_PARTS)] >= -1e-9).all().all()


def test_demo_issues_are_the_customers_orders(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows, events = demo
    contacts = events[events.event_type == "contact_inbound"].copy()
    contacts["order"] = contacts["attrs"].map(lambda a: json.loads(a).get("order"))
    assert contacts.order.notna().all()  # every demo contact names its order
    want = contacts.groupby(["customer_id", "order"]).size()
    assert len(rows) == len(want) > 100
    got = rows.set_index(["customer_id", "subject"]).contacts.sort_index()
    assert got.to_dict() == want.sort_index().to_dict()
    assert set(rows.subject_kind) == {"order"}
    assert rows.transfers.sum() == (events.event_type == "transfer").sum() > 0
    hold = events[events.event_type.isin(["hold", "transfer"])]["attrs"].map(
        lambda a: float(json.loads(a).get("hold_seconds", 0))
    )
    assert rows.hold_seconds.sum() == pytest.approx(hold.sum())
    _parts_add_up(rows)
    assert rows.repeat.any() and rows.one_touch.any() and not rows.first_contact_resolution.all()
    assert rows.issue_id.is_unique


def test_distributions_and_their_drill_down_add_up(
    demo: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    rows, _ = demo
    overall = effort.distribution(rows).iloc[0]
    assert overall.issues == len(rows) and overall.contacts == rows.contacts.sum()
    assert overall.elapsed_hours_median == pytest.approx(rows.elapsed_hours.median(), abs=1e-4)
    for by in DIMENSIONS:
        dist = effort.distribution(rows, by)
        assert dist.issues.sum() == len(rows), by
        for _, fig in dist.iterrows():
            value = str(fig[by])
            behind = effort.drill(rows, by, value)
            assert len(behind) == fig.issues
            assert len(effort.customers(behind)) == fig.customers
            assert effort.customers(behind).issues.sum() == fig.issues
            for flag in FLAGS:
                assert len(effort.drill(rows, by, value, flag)) == fig[flag]
    with pytest.raises(ConfigError, match="cannot break down by 'week'"):
        effort.distribution(rows, "week")
    with pytest.raises(ConfigError, match="unknown flag"):
        effort.drill(rows, flag="happy")


def _snowflake(tweet_id: str) -> pd.Timestamp:
    return pd.Timestamp(((int(tweet_id) >> 22) + 1288834974657) * 1_000_000).tz_localize(None)


def _raw_conversations() -> pd.DataFrame:
    """Per conversation, from the raw JSON: its first customer, the first reply after that
    customer's first message, and the messages (the customer's, the brand's, the closing)."""
    out = []
    for conv in json.loads(shared_dataset(IBM).read_text()):
        msgs = conv["dialogContent"]
        first = msgs[0]["client"]
        mine = [
            pd.Timestamp(m["datetime"]).tz_localize(None)
            for m in msgs
            if "agent" not in m and m.get("client", m.get("client1")) == first
        ]
        brand = [pd.Timestamp(m["datetime"]).tz_localize(None) for m in msgs if "agent" in m]
        brand.append(_snowflake(conv["agentURL"]["tweet_ID"]))
        answers = [b for b in brand if b >= min(mine)]
        reply = (min(answers) - min(mine)).total_seconds() / 3600 if answers else None
        out.append(
            {
                "session": conv["dialogHeader"]["sessionID"],
                "customer_id": first,
                "first_reply_hours": reply,
                "messages": len(msgs) + 1,
                "customer_messages": len(mine),
            }
        )
    return pd.DataFrame(out)


def test_ibm_first_reply_and_messages_match_the_raw_json(ibm: pd.DataFrame) -> None:
    raw = _raw_conversations()
    assert len(raw) == 525
    rows = ibm.assign(session=ibm.issue_id.str.split("~").str[0])
    # every message is in one issue of its conversation (a second customer in a thread
    # has an issue of their own there)
    per_conv = rows.assign(messages=rows.contacts + rows.replies).groupby("session").messages
    assert per_conv.sum().to_dict() == raw.set_index("session").messages.to_dict()
    got = rows.merge(raw, on=["session", "customer_id"], validate="one_to_one")
    assert len(got) == 525
    assert (got.contacts == got.customer_messages).all()
    assert got.first_reply_hours_x.notna().all()
    diff = (got.first_reply_hours_x - got.first_reply_hours_y).abs()
    assert diff.max() < 1e-6
    _parts_add_up(ibm)
    assert set(ibm.subject_kind) == {"case"} and set(ibm.channel) == {"twitter"}


def test_time_waiting_on_an_approval_is_its_own_part(tmp_path: Path) -> None:
    home = _ingest_ibm(tmp_path / "store")
    with cxloop.open(home) as cx:
        before = cx.effort_issues()
        slow = before[(before.first_reply_hours > 5) & (before.contacts == 1)].iloc[0]
        start = slow.started_at.to_pydatetime()
        store = CaseStore(cx.workspace.state)
        with cx.workspace.state.connect() as con:
            case = dict.fromkeys(("owner", "started_at", "resolved_at", "resolution"), None)
            case.update(
                case_id="CS-000001",
                customer_id=slow.customer_id,
                subject=slow.subject,
                department="support",
                severity="high",
                state="open",
                opened_at=start.isoformat(),
                sla_due_at=(start + timedelta(days=1)).isoformat(),
                contacts=1,
                follow_up_due_at=None,
                followed_up_at=None,
                updated_at=start.isoformat(),
            )
            store.insert_case(con, case)
            aid = store.add_approval(
                con,
                {
                    "case_id": "CS-000001",
                    "remedy": "credit",
                    "amount": 20.0,
                    "requested_by": "ann",
                    "requested_role": "agent",
                    "needs_role": "lead",
                    "requested_at": (start + timedelta(hours=1)).isoformat(),
                    "policy_version": "test",
                    "note": "",
                },
            )
            store.decide_approval(
                con,
                aid,
                decision="approved",
                decided_by="lee",
                decided_role="lead",
                decided_at=(start + timedelta(hours=3)).isoformat(),
            )
        after = cx.effort_issues().set_index("issue_id")
    row = after.loc[slow.issue_id]
    assert row.approvals == 1
    assert row.wait_approval_hours == pytest.approx(2.0)
    assert row.wait_first_reply_hours == pytest.approx(slow.wait_first_reply_hours - 2.0)
    assert row.elapsed_hours == pytest.approx(slow.elapsed_hours)
    _parts_add_up(after.reset_index())


def _cli(home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["effort", *args, "--home", str(home)], env=env)


def test_cli_summary_issues_and_customers(
    ibm_home: Path, ibm: pd.DataFrame, tmp_path: Path
) -> None:
    done = _cli(ibm_home, "summary", "--by", "month", "--format", "json")
    assert done.exit_code == 0, done.output
    months = json.loads(done.output)
    assert sum(m["issues"] for m in months) == len(ibm)
    out = tmp_path / "repeat.csv"
    done = _cli(ibm_home, "issues", "--flag", "repeat", "--out", str(out))
    assert done.exit_code == 0, done.output
    assert len(pd.read_csv(out)) == ibm.repeat.sum() > 0
    out = tmp_path / "customers.parquet"
    done = _cli(ibm_home, "customers", "--by", "month", "--value", "2020-03", "--out", str(out))
    assert done.exit_code == 0, done.output
    march = next(m for m in months if m["month"] == "2020-03")
    assert pd.read_parquet(out).issues.sum() == march["issues"]
    done = _cli(ibm_home, "issues", "--by", "team")
    assert done.exit_code != 0 and "--value" in str(done.exception)


def test_bad_effort_files_name_the_file_and_field(ibm_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "effort.toml"
    bad.write_text('[issues]\nwindow = "soon"\n')
    with cxloop.open(ibm_home, effort=str(bad)) as cx, pytest.raises(ConfigError) as err:
        cx.effort()
    assert str(bad) in str(err.value) and "issues.window" in str(err.value)
    for data, field in (
        ({"events": {"reply": []}}, "events.reply"),
        ({"events": {"contact": ["x"], "reply": ["x"]}}, "both name x"),
        ({"attrs": {"team": 3}}, "attrs.team"),
        ({"measures": {"speed": 1}}, "unknown field"),
        ({"extra": {}}, "unknown section"),
    ):
        with pytest.raises(ConfigError, match=field):
            effort_rules_from_dict(data, "f.toml")
    rules = effort_rules_from_dict({"issues": {"window": "2d"}}, "f.toml")
    assert rules.window == timedelta(days=2)
    assert datetime.now(UTC)  # the report itself never reads the wall clock
