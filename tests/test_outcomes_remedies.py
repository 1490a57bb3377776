"""Which remedies won customers back (issue 19, item 5): the failure table against an
independent pandas computation from the raw files, the injected effect recovered, the
drill-down totals, the policy bands, the recommender's "what worked before", the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.demo import generate_demo
from cxloop.domain.cases import SignalFacts, SignalKind
from cxloop.domain.recovery import (
    CaseFacts,
    CustomerFacts,
    Worked,
    recommend,
    with_what_worked,
)
from cxloop.domain.remedies import CustomerTier, Remedy, Severity
from cxloop.domain.uplift import att, qini_curve
from cxloop.errors import ConfigError
from cxloop.services.outcomes.remedies import policy_bands
from cxloop.services.outcomes.remedies_rules import load_remedy_rules

EFFECT = 0.6  # of the customers a late order would lose, a goodwill credit keeps this share
H = 90


def _injected(root: Path, seed: int, customers: int = 2000) -> tuple[Path, dict[str, float]]:
    ds = generate_demo(
        root / "data", customers=customers, seed=seed, remedy_effect=EFFECT, with_bad_rows=False
    )
    with cxloop.open(root / "store") as cx:
        cx.ingest(root / "data")
        cx.build_ledger()
    return root, ds.truth


@pytest.fixture(scope="module")
def injected(remedies_store: tuple[Path, dict[str, float]]) -> tuple[Path, dict[str, float]]:
    return remedies_store  # conftest: seed 7, 2000 customers, EFFECT


@pytest.fixture(scope="module")
def table(injected: tuple[Path, dict[str, float]]) -> pd.DataFrame:
    with cxloop.open(injected[0] / "store") as cx:
        return cx.remedies_uplift(H, "delivery")


def _credit_row(table: pd.DataFrame) -> pd.Series:
    rows = table[(table.remedy == "credit") & (table.band == "0-25")]
    assert len(rows) == 1, table
    return rows.iloc[0]


def test_the_estimate_covers_the_injected_effect(
    injected: tuple[Path, dict[str, float]], table: pd.DataFrame
) -> None:
    truth = injected[1][f"remedy_uplift_{H}"]
    row = _credit_row(table)
    assert 0.1 < truth < 0.4
    assert row.low <= truth <= row.high, (row.low, truth, row.high)
    assert row.low > 0  # the credit clearly retained better than nothing
    assert row.policy_limit == "agent"


def _independent(root: Path, now: pd.Timestamp, ledger: pd.DataFrame) -> pd.DataFrame:
    """From the raw CSVs with plain pandas: each customer's first broken delivery promise,
    the credit and refund paid within [due - 1 day, due + 30 days] (the remedy is the one
    with more money), and an order again within 90 days."""
    sales = pd.read_csv(root / "data" / "sales_orders.csv")
    orders = sales[sales.event_type == "order_placed"].assign(ts=lambda d: _utc(d.ts))
    bill = pd.read_csv(root / "data" / "billing.csv")
    money = bill[bill.event_type.isin(["credit_issued", "refund_issued"])]
    money = money.assign(ts=_utc(money.ts))
    broken = ledger[(ledger.kind == "delivery") & (ledger.state == "broken")]
    broken = broken.sort_values(["due_at", "promise_id"]).drop_duplicates("customer_id")
    rows = []
    for b in broken.itertuples():
        due = pd.Timestamp(b.due_at)
        if due + pd.Timedelta(days=H) > now:
            continue
        mine = orders[orders.customer_id == b.customer_id]
        placed = mine[mine.ref == b.ref].ts.min()
        later = mine[
            (mine.ts > due)
            & (mine.ts <= due + pd.Timedelta(days=H))
            & (mine.ref != b.ref)
            & (mine.ts - placed > pd.Timedelta(days=1))
        ]
        c = money[
            (money.ref == b.ref)
            & (money.ts >= due - pd.Timedelta(days=1))
            & (money.ts <= due + pd.Timedelta(days=30))
        ]
        given = c.groupby("event_type").amount.sum()
        credit, refund = given.get("credit_issued", 0.0), given.get("refund_issued", 0.0)
        rows.append((b.customer_id, float(credit), float(refund), len(later) > 0))
    return pd.DataFrame(rows, columns=["customer_id", "credit", "refund", "retained"])


def _utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True).dt.tz_localize(None)


def test_drill_down_equals_the_figure_and_an_independent_computation(
    injected: tuple[Path, dict[str, float]], table: pd.DataFrame
) -> None:
    root = injected[0]
    with cxloop.open(root / "store") as cx:
        treated = cx.remedies_customers("delivery", "credit", "0-25", H, "treated")
        control = cx.remedies_customers("delivery", "credit", "0-25", H, "control")
        mine = _independent(root, pd.Timestamp(cx.now()), cx.ledger().execute())
    row = _credit_row(table)
    assert len(treated) == row.n_treated and len(control) == row.n_control
    assert treated.retained.mean() == pytest.approx(row.rate_treated)
    assert row.naive == pytest.approx(treated.retained.mean() - control.retained.mean())
    got = mine[(mine.credit > mine.refund) & (mine.credit <= 25)]
    assert sorted(got.customer_id) == sorted(treated.customer_id)
    assert got.retained.mean() == pytest.approx(treated.retained.mean())
    # the comparison: no remedy of any kind; every one of them got no credit in the raw files
    assert set(control.customer_id) <= set(mine[mine.credit == 0].customer_id)


def test_the_qini_curve_and_the_cli(injected: tuple[Path, dict[str, float]]) -> None:
    home = str(injected[0] / "store")
    runner = CliRunner()
    res = runner.invoke(
        app, ["outcomes", "remedies", "--home", home, "--kind", "delivery", "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["horizon_days"] == H and any(r["band"] == "0-25" for r in out["rows"])
    assert any("0-25" in line for line in out["policy_reading"])
    res = runner.invoke(
        app,
        [
            "outcomes",
            "remedies",
            "--home",
            home,
            "--kind",
            "delivery",
            "--remedy",
            "credit",
            "--qini",
            "-f",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    q = json.loads(res.output)
    assert q["rows"][0] == {"share": 0.0, "gain": 0.0} and q["rows"][-1]["share"] == 1.0
    assert math.isfinite(q["coefficient"])
    res = runner.invoke(app, ["outcomes", "remedies", "--home", home, "--horizon", "45"])
    assert res.exit_code != 0 and "horizon 45" in str(res.exception or res.output)


def test_the_recommender_uses_what_worked(
    injected: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    shutil.copytree(injected[0] / "store", tmp_path / "store")
    with cxloop.open(tmp_path / "store") as cx:
        cx.sync_cases()
        cases = [
            c
            for c in cx.cases()
            if any(
                s["facts"].get("promise_kind") == "delivery"
                for s in cx.case(c["case_id"])["signals"]
            )
        ]
        advice = cx.recover(cases[0]["case_id"]).as_dict()
    assert "what worked before: credit 0-25" in advice["reason"]
    found = advice["evidence"]["what_worked"]
    assert found and found[0]["remedy"] == "credit" and found[0]["top"] == 25
    credit = [ln for ln in advice["lines"] if ln["remedy"] == "credit"]
    assert all(ln["amount"] <= 25 for ln in credit)


def _facts(order: float) -> CaseFacts:
    late = SignalFacts(SignalKind.BROKEN_PROMISE, "delivery", "late", late_hours=100.0)
    who = CustomerFacts(3, 500.0, CustomerTier.STANDARD)
    return CaseFacts("CS-1", Severity.HIGH, (late,), who, order_amount=order)


def test_cheapest_not_worse_credit_and_too_little_history() -> None:
    rec = recommend(_facts(400.0), None)
    assert next(ln for ln in rec.lines if ln.remedy is Remedy.CREDIT).amount == 60
    small = Worked("credit", "0-25", 25.0, 0.20, 0.05, 0.35, 40)
    big = Worked("credit", "50-200", 200.0, 0.21, 0.04, 0.38, 30)
    capped = with_what_worked(rec, (small, big), not_worse=0.02)
    assert next(ln for ln in capped.lines if ln.remedy is Remedy.CREDIT).amount == 25
    assert "credit lowered from 60 to 25" in capped.reason
    useless = Worked("credit", "0-25", 25.0, -0.01, -0.2, 0.18, 40)
    dropped = with_what_worked(rec, (useless,), not_worse=0.02)
    assert Remedy.CREDIT not in {ln.remedy for ln in dropped.lines}
    same = with_what_worked(rec, (), 0.02, "too little history for delivery failures")
    assert same.lines == rec.lines and "too little history" in same.reason
    assert same.evidence["what_worked"] == []


def test_policy_bands_follow_the_policy_limits(injected: tuple[Path, dict[str, float]]) -> None:
    with cxloop.open(injected[0] / "store") as cx:
        bands = policy_bands(cx.policy, "credit")
    assert [b.high for b in bands] == [25, 50, 200, 1000, math.inf]
    assert bands[1].limit == "agent (customer tier is high)" and bands[2].limit == "lead"
    assert [b.name for b in policy_bands(cx.policy, "callback")] == ["any"]


def test_att_and_qini_on_a_known_randomised_sample() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 2))
    t = (rng.random(4000) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)  # confounded by x0
    base = 1 / (1 + np.exp(-(x[:, 0] - 0.2)))
    y = (rng.random(4000) < np.clip(base + 0.15 * t, 0, 1)).astype(float)
    est = att(x, t, y)
    truth = float(np.mean((np.clip(base + 0.15, 0, 1) - base)[t == 1]))
    assert est.low <= truth <= est.high and abs(est.naive - truth) > abs(est.uplift - truth)
    share, gain = qini_curve(np.arange(4.0), np.array([1, 0, 1, 0.0]), np.array([1, 0, 0, 1.0]))
    assert share.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    # top first: (t=0,y=1) → 0; (t=1,y=0) → 0 - 1·1/1; (t=0,y=0) → 0 - 1·1/2; (t=1,y=1) → 1 - 1·2/2
    assert (gain * 4).tolist() == [0, 0, -1, -0.5, 0]


def test_bad_remedies_rules_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "remedies.toml"
    events = '[[remedy_events]]\nevent_type = "x"\nremedy = "credit"\n'
    bad.write_text('horizons = [90]\nmin_treated = "many"\n' + events)
    with pytest.raises(ConfigError, match=r"remedies.toml: min_treated: expected a whole number"):
        load_remedy_rules(bad)
    bad.write_text('[[remedy_events]]\nevent_type = "x"\nremedy = "voucher"\n')
    with pytest.raises(ConfigError, match=r"remedy_events\[0\].remedy: expected one of"):
        load_remedy_rules(bad)
    assert load_remedy_rules(None).horizons == (90, 180)


def test_the_demo_is_unchanged_without_the_effect(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", customers=150, seed=3)
    b = generate_demo(tmp_path / "b", customers=150, seed=3, remedy_effect=0.0)
    assert a.truth == {} and b.truth == {}
    for f in a.files:
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()
    credits = pd.read_csv(tmp_path / "a" / "billing.csv").query("event_type == 'credit_issued'")
    assert credits["attrs"].str.contains('"case"').all()  # no injected goodwill credits


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 23, 31])
def test_the_interval_covers_the_truth_on_other_seeds(seed: int, tmp_path: Path) -> None:
    root, truth = _injected(tmp_path, seed)
    with cxloop.open(root / "store") as cx:
        row = _credit_row(cx.remedies_uplift(H, "delivery"))
    assert row.low <= truth[f"remedy_uplift_{H}"] <= row.high
