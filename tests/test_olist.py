"""The ledger on the public Olist data agrees with a plain DuckDB computation."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

import cxloop
from cxloop.analytics.attrs import attr_number
from tests.conftest import olist_copy, shared_dataset

pytestmark = pytest.mark.olist

REFERENCE = """
WITH o AS (
  SELECT *, CAST(order_estimated_delivery_date AS DATE) AS est_day,
         CAST(order_estimated_delivery_date AS DATE) + INTERVAL 1 DAY - INTERVAL 1 SECOND AS due,
         greatest(order_purchase_timestamp, order_approved_at, order_delivered_carrier_date,
                  order_delivered_customer_date) AS last_known
  FROM read_csv('{dir}/olist_orders_dataset.csv')
  -- status 'delivered' without a delivery date contradicts itself: quarantined
  WHERE NOT (order_status = 'delivered' AND order_delivered_customer_date IS NULL)
)
SELECT
  count(*) FILTER (WHERE order_delivered_customer_date IS NOT NULL) AS delivered,
  count(*) FILTER (WHERE CAST(order_delivered_customer_date AS DATE) > est_day) AS late,
  count(*) FILTER (WHERE order_delivered_customer_date IS NULL
                   AND NOT (order_status IN ('canceled', 'unavailable') AND last_known <= due)
                   AND due < $as_of) AS never_delivered_overdue
FROM o
"""
AS_OF = """
SELECT max(ts) FROM (
  SELECT greatest(order_purchase_timestamp, order_approved_at, order_delivered_carrier_date,
                  order_delivered_customer_date) AS ts
  FROM read_csv('{dir}/olist_orders_dataset.csv')
  UNION ALL SELECT coalesce(review_answer_timestamp, review_creation_date)
  FROM read_csv('{dir}/olist_order_reviews_dataset.csv'))
"""


@pytest.fixture(scope="module")
def olist(
    olist_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[cxloop.Cxloop, Path]:
    data = shared_dataset("olist")
    cx = cxloop.open(olist_copy(olist_store, tmp_path_factory.mktemp("olist")))
    cx.build_ledger()
    yield cx, data
    cx.close()


def test_delivery_figures_match_plain_duckdb(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, data = olist
    con = duckdb.connect()
    (as_of,) = con.execute(AS_OF.format(dir=data)).fetchone()
    delivered, late, overdue = con.execute(REFERENCE.format(dir=data), {"as_of": as_of}).fetchone()
    assert (delivered, late) == (5170, 343)  # the raw data, for the record

    t = cx.ledger()
    d = t.filter(t.rule == "delivery")
    assert str(d.as_of.max().execute()) == str(as_of)
    assert d.fulfilled_at.count().execute() == delivered
    assert d.filter(d.breach == "late").count().execute() == late
    report = cx.promise_report(by="kind").set_index("kind").loc["delivery"]
    expected_rate = (delivered - late) / (delivered + overdue)
    assert report["kept_rate"] == pytest.approx(expected_rate, abs=1e-12)
    assert report["broken"] == late + overdue


def test_quarantine_and_idempotent_reload(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, data = olist
    q = cx.quarantine()
    assert set(q.field) == {"order_delivered_customer_date", "order_id"}
    assert (q.field == "order_delivered_customer_date").sum() == 8
    before = cx.events().count().execute()
    again = cx.ingest(data, source="olist")
    assert again.events_new == 0 and again.events_duplicate == before
    assert len(cx.quarantine()) == len(q)


def test_late_deliveries_score_lower(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, _ = olist
    scores = cx.score_by_state().set_index(["state", "breach"], drop=False)
    kept = scores[scores.state.isin(["kept", "exceeded"])]
    kept_mean = (kept.mean_score * kept.reviews).sum() / kept.reviews.sum()
    late = scores.loc[("broken", "late")]
    assert kept_mean > 4.0 and late.mean_score < 3.0


def test_one_person_one_timeline(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, _ = olist
    # 57b2... is the customer_unique_id of the first customers row; events are keyed by person
    events = cx.events()
    per_person = events.group_by("customer_id").aggregate(
        orders=(events.event_type == "order_placed").sum()
    )
    assert per_person.orders.max().execute() > 1  # repeat buyers join up across orders


def test_cases_on_olist_cover_every_broken_delivery_and_low_review(
    olist: tuple[cxloop.Cxloop, Path],
) -> None:
    from cxloop.domain.cases import SignalRules

    cx, _ = olist
    report = cx.sync_cases(SignalRules(open_window=timedelta(days=3650)))
    led = cx.ledger()
    broken = led.filter((led.rule == "delivery") & (led.state == "broken")).count().execute()
    ev = cx.events()
    low = ev.filter(ev.event_type == "review").mutate(s=attr_number(ev.attrs, "score"))
    n_low = low.filter(low.s <= 2).count().execute()
    cases = cx.cases()
    sample = cases[:: max(1, len(cases) // 200)]
    kinds = Counter(s["kind"] for c in sample for s in cx.case(c["case_id"])["signals"])
    assert report.signals_new >= broken + n_low
    assert report.cases_opened == len(cases) < report.signals_new  # reviews join their order's case
    assert {"broken_promise", "negative_feedback"} <= set(kinds)
    assert all(c["subject"] for c in cases)
    advice = cx.recover(cases[0]["case_id"]).as_dict()
    assert advice["lines"] and advice["reason"]
