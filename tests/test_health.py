"""Health and churn risk from the log: features equal an independent computation from the
raw files, a later event cannot change them (the leakage guard), the time-split
validation, reasons and revenue at risk, and the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.analytics import health as hq
from cxloop.cli.main import app
from cxloop.errors import ConfigError
from cxloop.services.brief.at_risk import at_risk
from cxloop.services.outcomes import health as hs
from cxloop.services.promises.ledger import promises_table
from cxloop.settings import Settings
from tests.conftest import demo_copy

CUTOFF = datetime(2026, 9, 15)
HORIZON = timedelta(days=45)


def _raw(data: Path) -> pd.DataFrame:
    """Every event of the demo's files, read with plain pandas and json; the rows the
    demo spoils on purpose (no customer, a bad time or line) left out as the store does."""
    frames = [pd.read_csv(p, dtype=str) for p in sorted(data.glob("*.csv"))]
    for path in sorted(data.glob("*.jsonl")):
        lines = []
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        frames.append(pd.DataFrame(lines))
    df = pd.concat(frames, ignore_index=True)
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601", errors="coerce")
    df["ts"] = df["ts"].dt.tz_localize(None)
    df["amount"] = pd.to_numeric(df["amount"].replace("", None), errors="coerce")
    df = df[df["customer_id"].fillna("").str.strip().ne("") & df["ts"].notna()]
    return df.drop_duplicates("event_id")


@pytest.fixture(scope="module")
def home(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo store: scoring keeps its result in the store."""
    return demo_copy(demo_store, tmp_path_factory.mktemp("health"))


@pytest.fixture(scope="module")
def report(home: Path) -> hs.Health:
    with cxloop.open(home) as cx:
        assert at_risk(cx.workspace)["note"].startswith("no health scoring yet")
        return cx.health(HORIZON)


def test_features_equal_an_independent_computation(demo_store: Path) -> None:
    raw = _raw(demo_store.parent / "data")
    before = raw[raw["ts"] < CUTOFF]
    buys = before[before["event_type"] == "order_placed"]
    g = buys.groupby("customer_id")
    want = pd.DataFrame(
        {
            "recency_days": (CUTOFF - g["ts"].max()).dt.total_seconds() / 86400,
            "order_days": g["ts"].apply(lambda s: s.dt.date.nunique()),
            "monetary": g["amount"].sum(),
        }
    )
    contacts = before[before["event_type"] == "contact_inbound"].groupby("customer_id").size()
    want["contacts"] = contacts.reindex(want.index, fill_value=0)
    scored = before[before["event_type"].isin(["review", "survey_response"])].copy()
    scored["score"] = scored["attrs"].map(
        lambda a: (a if isinstance(a, dict) else json.loads(a)).get("score")
    )
    want["mean_score"] = scored.groupby("customer_id")["score"].mean().reindex(want.index)
    with cxloop.open(demo_store) as cx:
        ws = cx.workspace
        got = hq.features(ws.events(), promises_table(ws), CUTOFF, hq.HealthSpec()).to_pandas()
    got = got.set_index("customer_id").sort_index()
    assert list(got.index) == sorted(want.index) and len(got) > 1000
    for col in want.columns:
        assert np.allclose(got[col], want[col].sort_index(), equal_nan=True), col
    assert (got["promises_kept"] + got["promises_broken"]).sum() > 0


def test_an_event_after_the_cutoff_changes_nothing(demo_store: Path, tmp_path: Path) -> None:
    home = demo_copy(demo_store, tmp_path)
    with cxloop.open(home) as cx:
        ws = cx.workspace
        first = hq.features(ws.events(), promises_table(ws), CUTOFF, hq.HealthSpec()).to_pandas()
        who = str(first["customer_id"].iloc[0])
        later = tmp_path / "later.csv"
        pd.DataFrame(
            [
                {"customer_id": who, "event_type": t, "ts": ts, "amount": a, "attrs": at}
                for t, ts, a, at in [
                    ("order_placed", "2026-09-15T00:00:01Z", 999.0, ""),
                    ("contact_inbound", "2026-09-20T00:00:00Z", None, ""),
                    ("review", "2026-09-21T00:00:00Z", None, '{"score": 1}'),
                ]
            ]
        ).to_csv(later, index=False)
        cx.ingest(later)
        ws = cx.workspace
        again = hq.features(ws.events(), promises_table(ws), CUTOFF, hq.HealthSpec()).to_pandas()
        pd.testing.assert_frame_equal(
            first.sort_values("customer_id").reset_index(drop=True),
            again.sort_values("customer_id").reset_index(drop=True),
        )
        after = hq.features(ws.events(), promises_table(ws), datetime(2026, 9, 22), hq.HealthSpec())
        row = after.filter(after.customer_id == who).to_pandas().iloc[0]
        assert row["recency_days"] < 7.1 and row["low_scores"] >= 1  # the test can fail


def test_health_is_validated_on_time_and_adds_up(report: hs.Health, demo_store: Path) -> None:
    v = report.validation
    assert v["train_cutoff"] < v["test_cutoff"] and v["validation"].startswith("time split")
    assert 0.55 <= v["roc_auc"] <= 0.9 and v["brier"] < v["brier_baseline"]
    rows = report.rows
    raw = _raw(demo_store.parent / "data")
    buyers = raw[(raw["event_type"] == "order_placed") & (raw["ts"] < report.as_of)]
    assert set(rows["customer_id"]) == set(buyers["customer_id"])
    assert rows["risk"].between(0, 1).all()
    assert rows["revenue_at_risk"].sum() == pytest.approx(report.summary["revenue_at_risk"], abs=1)
    assert (rows["revenue_at_risk"] <= rows["expected_value"] + 0.01).all()
    mean_value = buyers.groupby("customer_id")["amount"].mean()
    one = rows.iloc[0]
    assert one["expected_value"] >= mean_value[one["customer_id"]] - 0.01
    # the demo's customers stop buying after broken promises: the model must see it
    broken = rows.groupby(rows["promises_broken"] > 0)["risk"].mean()
    assert broken[True] > broken[False] + 0.05
    assert rows["reasons"].str.contains("promises_broken").any()
    bands = hs.distribution(rows)
    assert bands["customers"].sum() == len(rows)
    assert bands["revenue_at_risk"].sum() == pytest.approx(rows["revenue_at_risk"].sum(), abs=1)


def test_cli_health_json_lists_the_customers_behind_the_figure(
    report: hs.Health, home: Path
) -> None:
    kept = home / "outcomes" / "health.json"
    made = kept.stat().st_mtime_ns
    res = CliRunner().invoke(
        app,
        [
            "outcomes",
            "health",
            "--home",
            str(home),
            "--horizon",
            "45d",
            "--min-risk",
            "0.5",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    listed = payload["rows"]
    assert all(r["risk"] >= 0.5 for r in listed)
    assert payload["listed"] == len(listed) == int((report.rows["risk"] >= 0.5).sum())
    assert payload["listed_revenue_at_risk"] == pytest.approx(
        sum(r["revenue_at_risk"] for r in listed), abs=0.05
    )
    assert payload["validation"]["roc_auc"] == report.validation["roc_auc"]
    assert kept.stat().st_mtime_ns == made  # same log, clock and horizon: the kept scoring


def test_a_log_too_short_and_bad_settings_are_clear(demo_store: Path, tmp_path: Path) -> None:
    with cxloop.open(demo_store) as cx, pytest.raises(ConfigError, match="too few to fit"):
        cx.health(timedelta(days=120))
    with pytest.raises(ConfigError, match="health_horizon"):
        Settings.from_env({"CXLOOP_HEALTH_HORIZON": "soon"})
    with pytest.raises(ConfigError, match="health_call_risk"):
        Settings.from_env({"CXLOOP_HEALTH_CALL_RISK": "2"})
    bad = tmp_path / "h.toml"
    bad.write_text('purchase = "order_placed"\nrefund = ["x"]\n')
    with pytest.raises(ConfigError, match="unknown key 'refund'"):
        hs.load_spec(bad)


def test_the_brief_lists_the_calls_worth_making(
    report: hs.Health, home: Path, tmp_path: Path
) -> None:
    with cxloop.open(home, health_call_risk="0.5", health_calls="3") as cx:
        r = at_risk(cx.workspace)
        assert r["revenue_at_risk"] == report.summary["revenue_at_risk"] and not r["stale"]
        risky = report.rows[report.rows["risk"] >= 0.5]
        assert r["at_or_above_call_risk"] == len(risky)
        assert [c["customer_id"] for c in r["calls"]] == list(risky["customer_id"].head(3))
        extra = tmp_path / "one.csv"
        extra.write_text(
            "customer_id,event_type,ts,amount\nCU-000001,order_placed,2026-11-20T18:00:00Z,5\n"
        )
        cx.ingest(extra)
        assert at_risk(cx.workspace)["stale"] is True
