"""Retention, repeat purchase, lifecycle and the value of a kept promise, checked against
independent pandas computations from the raw files (the demo's exports and Olist's CSVs)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.errors import ConfigError
from cxloop.results.outcomes import PromiseValue
from tests.conftest import shared_dataset

GAP = timedelta(days=1)
DORMANT = ("--state", "dormant", "-f", "json")
BROKEN = ("--segment", "broken", "-f", "json")


def _visits(orders: pd.DataFrame) -> pd.DataFrame:
    """Purchases (customer_id, ts, value, event_id) merged into visits by plain pandas:
    a purchase more than GAP after the customer's previous one starts a new visit."""
    o = orders.sort_values(["customer_id", "ts", "event_id"]).reset_index(drop=True)
    new = o.groupby("customer_id").ts.diff().isna() | (o.groupby("customer_id").ts.diff() > GAP)
    o["visit"] = new.astype(int).groupby(o.customer_id).cumsum()
    return o.groupby(["customer_id", "visit"]).agg(ts=("ts", "min"), value=("value", "sum"))


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.year * 12 + ts.dt.month - 1


def _expected_cohorts(visits: pd.DataFrame) -> pd.DataFrame:
    v = visits.reset_index()
    v["p"] = _month(v.ts)
    act = v.groupby(["customer_id", "p"]).value.sum().reset_index()
    act["cohort"] = act.groupby("customer_id").p.transform("min")
    act["offset"] = act.p - act.cohort
    return act.groupby(["cohort", "offset"]).agg(
        customers=("customer_id", "nunique"), revenue=("value", "sum")
    )


def _label(i: int) -> str:
    return f"{i // 12}-{i % 12 + 1:02d}"


def _check_cohorts(cx: cxloop.Cxloop, visits: pd.DataFrame) -> None:
    want = _expected_cohorts(visits)
    got = cx.retention(cohorts=True)
    got = got[got.customers > 0].set_index(["cohort", "offset"])
    want.index = pd.MultiIndex.from_tuples([(_label(c), o) for c, o in want.index])
    assert len(got) == len(want)
    for key, row in want.iterrows():
        assert got.loc[key, "customers"] == row.customers, key
        assert got.loc[key, "revenue"] == pytest.approx(row.revenue, rel=1e-9, abs=1e-6), key


def _check_repeat(cx: cxloop.Cxloop, visits: pd.DataFrame, as_of: datetime) -> None:
    per = visits.reset_index().groupby("customer_id").agg(n=("visit", "max"))
    got = cx.repeat_purchase().iloc[0]
    assert got.customers == len(per)
    assert got.repeaters == int((per.n >= 2).sum())
    v = visits.reset_index()
    first = v[v.visit == 1].set_index("customer_id").ts
    second = v[v.visit == 2].set_index("customer_id").ts.reindex(first.index)
    seen = first + timedelta(days=90) <= pd.Timestamp(as_of)
    again = (second - first) <= timedelta(days=90)
    assert got.observed_90d == int(seen.sum())
    assert got.repeat_90d == int((seen & again).sum())


# ---------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo(demo_store: Path) -> tuple[cxloop.Cxloop, pd.DataFrame]:
    raw = pd.read_csv(demo_store.parent / "data" / "sales_orders.csv", dtype=str)
    raw = raw[(raw.event_type == "order_placed") & raw.customer_id.notna()]
    orders = pd.DataFrame(
        {
            "customer_id": raw.customer_id,
            "ts": pd.to_datetime(raw.ts).dt.tz_localize(None),
            "event_id": raw.event_id,
            "value": pd.to_numeric(raw.amount),
        }
    )
    with cxloop.open(demo_store) as cx:
        yield cx, _visits(orders)


def test_demo_retention_and_repeat_equal_pandas(demo: tuple[cxloop.Cxloop, pd.DataFrame]) -> None:
    cx, visits = demo
    _check_cohorts(cx, visits)
    _check_repeat(cx, visits, cx.now())


def test_demo_lifecycle_equals_pandas(demo: tuple[cxloop.Cxloop, pd.DataFrame]) -> None:
    cx, visits = demo
    v = visits.reset_index()
    active = set(zip(v.customer_id, _month(v.ts), strict=True))
    first = v.groupby("customer_id").ts.min().pipe(_month)
    last = cx.now().year * 12 + cx.now().month - 1
    got = cx.lifecycle().set_index("period")
    for p in range(int(first.min()), last + 1):
        here = {c for c, q in active if q == p}
        before = {c for c, q in active if q == p - 1}
        earlier = {c for c, q in active if q < p - 1}
        new = {c for c in here if first[c] == p}
        row = got.loc[_label(p)]
        assert row.new == len(new)
        assert row.returning == len((here - new) & before)
        assert row.resurrecting == len((here - new - before) & earlier)
        assert row.dormant == len(before - here)


def test_drill_downs_total_the_figures(demo_store: Path) -> None:
    run = CliRunner().invoke
    home = ["--home", str(demo_store)]
    curve = json.loads(run(app, ["outcomes", "retention", *home, "--format", "json"]).output)
    listed = json.loads(
        run(
            app, ["outcomes", "retention", *home, "--customers", "--offset", "2", "-f", "json"]
        ).output
    )
    assert len(listed) == next(r["customers"] for r in curve if r["offset"] == 2)
    life = json.loads(run(app, ["outcomes", "lifecycle", *home, "-f", "json"]).output)
    row = life[2]
    who = run(
        app,
        ["outcomes", "lifecycle", *home, "--customers", "--at", row["period"], *DORMANT],
    )
    assert len(json.loads(who.output)) == row["dormant"] > 0
    rep = json.loads(
        run(app, ["outcomes", "repeat", *home, "--by", "promise", "-f", "json"]).output
    )
    broken = next(r for r in rep if r["segment"] == "broken")
    who = run(
        app,
        ["outcomes", "repeat", *home, "--by", "promise", "--customers", *BROKEN],
    )
    assert len(json.loads(who.output)) == broken["repeaters"]


def test_promise_value_on_the_demo(demo: tuple[cxloop.Cxloop, pd.DataFrame]) -> None:
    cx, _ = demo
    result = cx.promise_value("broken")
    assert isinstance(result, PromiseValue)  # the type the API answers with
    row = next(r for r in result.rows if r.outcome == "repeat purchase within 90d")
    # the demo makes half of the customers leave after a bad order: a clear loss
    assert row.high is not None and row.naive is not None and row.e_value is not None
    assert row.high < 0 and row.naive < 0 and row.e_value > 1
    units = cx.promise_value_customers("broken", "90d")
    assert len(units) == row.n and int(units.treated.sum()) == row.n_treated
    assert row.left_out == result.in_contrast - row.n


def test_bad_outcomes_file_names_the_key(tmp_path: Path, demo_store: Path) -> None:
    bad = tmp_path / "outcomes.toml"
    bad.write_text('[purchase]\nvalue = "price"\n', encoding="utf-8")
    with cxloop.open(demo_store, outcomes=str(bad)) as cx, pytest.raises(ConfigError) as err:
        cx.repeat_purchase()
    assert str(bad) in str(err.value) and "[purchase] value" in str(err.value)
    with pytest.raises(ConfigError, match="split_order_gap"):
        cxloop.open(demo_store, split_order_gap="soon")


# ---------------------------------------------------------------- Olist
@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> tuple[cxloop.Cxloop, pd.DataFrame]:
    src = shared_dataset("olist")
    orders = pd.read_csv(src / "olist_orders_dataset.csv", dtype=str)
    people = pd.read_csv(src / "olist_customers_dataset.csv", dtype=str)
    pay = pd.read_csv(src / "olist_order_payments_dataset.csv", dtype=str)
    pay = pay.assign(v=pd.to_numeric(pay.payment_value)).groupby("order_id").v.sum()
    # what the mapping refuses: delivered without a delivery date, no promised date
    bad = (orders.order_status == "delivered") & orders.order_delivered_customer_date.isna()
    orders = orders[~bad & orders.order_estimated_delivery_date.notna()]
    o = orders.merge(people, on="customer_id")
    purchases = pd.DataFrame(
        {
            "customer_id": o.customer_unique_id,
            "ts": pd.to_datetime(o.order_purchase_timestamp),
            "event_id": "olist:order_placed:" + o.order_id,
            "value": o.order_id.map(pay).fillna(0.0).to_numpy(),
        }
    )
    home = tmp_path_factory.mktemp("olist") / "store"
    with cxloop.open(home) as cx:
        cx.ingest(src, source="olist")
        yield cx, _visits(purchases)


def test_olist_retention_and_repeat_equal_pandas(olist: tuple[cxloop.Cxloop, pd.DataFrame]) -> None:
    cx, visits = olist
    _check_repeat(cx, visits, cx.now())
    got = cx.repeat_purchase().iloc[0]
    assert 0.003 < got.repeat_rate < 0.02  # the subset's few repeat buyers
    _check_cohorts(cx, visits)


@pytest.mark.slow
def test_olist_promise_value_has_intervals(olist: tuple[cxloop.Cxloop, pd.DataFrame]) -> None:
    cx, _ = olist
    rows = {r.outcome: r.model_dump() for r in cx.promise_value("broken").rows}
    review = rows["review score"]
    assert review["low"] < review["effect"] < review["high"] < 0  # broken promises cost stars
    repeat = rows["repeat purchase within 90d"]
    assert repeat["low"] <= repeat["effect"] <= repeat["high"] and repeat["left_out"] > 0


@pytest.mark.slow
def test_interval_covers_a_known_injected_effect() -> None:
    from bench.promise_value_coverage import coverage

    df = coverage(range(3), customers=500, effect=0.5)
    assert (df.n_treated == df.truth_treated).all()  # the same customers count as broken
    assert df.covered.all(), df.to_string()
