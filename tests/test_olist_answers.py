"""Answers that hold on the public Olist export: why promises broke (checked against a plain
DuckDB computation over the raw CSVs) and a brief that only asks for what can still be done."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb
import pytest

import cxloop
from tests.conftest import shared_dataset

pytestmark = pytest.mark.olist

#: Olist by hand: due at the end of the estimated day; canceled/unavailable orders are voided at
#: the latest time the order records (it has no cancellation time).
REASONS = """
WITH o AS (
  SELECT *, CAST(order_estimated_delivery_date AS DATE) + INTERVAL 1 DAY - INTERVAL 1 SECOND AS due,
         greatest(order_purchase_timestamp, order_approved_at, order_delivered_carrier_date,
                  order_delivered_customer_date) AS last_known
  FROM read_csv('{dir}/olist_orders_dataset.csv')
  WHERE NOT (order_status = 'delivered' AND order_delivered_customer_date IS NULL)
), r AS (
  SELECT *, CASE
    WHEN order_delivered_customer_date > due THEN 'late'
    WHEN order_delivered_customer_date IS NOT NULL OR due >= $as_of THEN NULL
    WHEN order_status IN ('canceled', 'unavailable') AND last_known <= due THEN NULL
    WHEN order_status IN ('canceled', 'unavailable') THEN 'canceled'
    ELSE 'never_fulfilled' END AS reason
  FROM o
)
SELECT reason, count(*) AS n,
       median(epoch(order_delivered_customer_date) - epoch(due)) / 3600 AS late_h
FROM r WHERE reason IS NOT NULL GROUP BY reason
"""
AS_OF = datetime(2018, 10, 22, 3, 33, 14)  # the latest event of the export


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cxloop.Cxloop]:
    with cxloop.open(tmp_path_factory.mktemp("olist-answers") / "store") as cx:
        cx.ingest(shared_dataset("olist"), source="olist")
        yield cx


def test_broken_promises_carry_their_reason(olist: cxloop.Cxloop) -> None:
    con = duckdb.connect()
    rows = con.execute(REASONS.format(dir=shared_dataset("olist")), {"as_of": AS_OF}).fetchall()
    want = {reason: n for reason, n, _ in rows}
    late_median = next(h for reason, _, h in rows if reason == "late")
    assert want["late"] == 343  # the figure, from the raw CSVs

    t = olist.ledger()
    d = t.filter(t.rule == "delivery")
    got = d.group_by("broken_reason").aggregate(n=d.count()).execute()
    got = {r.broken_reason: int(r.n) for r in got.itertuples() if isinstance(r.broken_reason, str)}
    assert got == want
    report = olist.promise_report(by="kind").set_index("kind").loc["delivery"]
    assert report["broken"] == sum(want.values())
    assert (report["broken_late"], report["broken_never_fulfilled"], report["broken_canceled"]) == (
        want["late"],
        want["never_fulfilled"],
        want["canceled"],
    )
    # lateness only where there is one: the never-delivered orders' overdue hours stay out
    assert report["late_hours_median"] == pytest.approx(late_median, rel=1e-9)
    assert report["late_hours_median"] < 24 * 10
