"""Answers that hold on the public Olist export: why promises broke (checked against a plain
DuckDB computation over the raw CSVs) and a brief that only asks for what can still be done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import cxloop
from cxloop.services.voice.analysis import Voice
from tests.conftest import olist_copy, shared_dataset

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
def olist(olist_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cxloop.Cxloop]:
    with cxloop.open(olist_copy(olist_store, tmp_path_factory.mktemp("olist-answers"))) as cx:
        yield cx


@pytest.fixture(scope="module")
def voice(olist: cxloop.Cxloop) -> Voice:
    """The store's voice, its texts embedded once (the CLI reads them from the store)."""
    v = olist.voice()
    v.topics()
    return v


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


REVIEWS = """
SELECT count(DISTINCT c.customer_unique_id)
FROM read_csv('{dir}/olist_order_reviews_dataset.csv') r
JOIN read_csv('{dir}/olist_orders_dataset.csv') o USING (order_id)
JOIN read_csv('{dir}/olist_customers_dataset.csv') c USING (customer_id)
WHERE r.review_score <= 2 AND coalesce(r.review_answer_timestamp, r.review_creation_date) <= $as_of
  AND list_contains($refs, r.order_id)
"""
ONLY_REGION = """
[[detectors]]
name = "late_deliveries_by_region"
kind = "promise_breaks"
rule = "delivery"
breaks = ["late"]
dimensions = ["region"]
window = "week"
time = "opened"
"""


def _systemic(b: dict) -> dict[str, dict]:
    return {c["key"]: c for c in b["candidates"] if c["kind"] == "systemic failure"}


def test_brief_asks_only_what_can_still_be_done(olist: cxloop.Cxloop, voice: Voice) -> None:
    v = voice
    b = olist.brief(v)
    assert b["as_of"] == AS_OF.isoformat()
    failures = _systemic(b)
    # the Nov 2017 failures ended ~9 months before: history, not "tell them before they call"
    assert {x["why"].split(",")[0] for x in b["left_out"]} == {
        "its window ended 325 days before the brief",
        "its window ended 329 days before the brief",
    }
    assert failures and all(c["stage"] == "recover" for c in failures.values())
    for c in failures.values():
        assert "before they call" not in c["action"] and c["action"].startswith("recover:")
        a = c["audience"]
        assert (
            c["customers"]
            == a["not_yet_told"]
            == a["complained"] + a["reviewed"] + (a["not_yet_heard_from"])
        )
        # the 1-2 star reviews, counted apart, agree with the raw CSVs
        refs = sorted(set(olist.cohort(c["key"]).ref))
        sql = REVIEWS.format(dir=shared_dataset("olist"))
        (low,) = duckdb.connect().execute(sql, {"as_of": AS_OF, "refs": refs}).fetchone()
        assert a["low_review"] == low > 0
        # the late-delivery baseline counts delivered orders only (6.6% late), not the
        # never-delivered ones (they made it ~30%)
        assert 0.05 < c["evidence"]["baseline_rate"] < 0.08


def test_warn_while_recent_and_an_action_moves_the_item_down(
    olist: cxloop.Cxloop, voice: Voice
) -> None:
    v = voice
    when = datetime(2017, 12, 28)
    b = olist.brief(v, as_of=when)
    failures = _systemic(b)
    stages = {c["title"][:6]: (c["stage"], c["customers"]) for c in failures.values()}
    # the seller's November ended 28 days before: one customer has not been in touch yet;
    # Rio's week ended 31 days before: too late to warn (orders still overdue count as late)
    assert stages == {"4a3ca9": ("warn", 1), "RJ: 16": ("recover", 20), "SP: 27": ("warn", 4)}
    warn = next(c for c in failures.values() if c["title"].startswith("4a3ca9"))
    assert warn["action"].startswith("tell the 1 customer not yet heard from before they call")
    assert warn["audience"]["complained"] == 4 and warn["audience"]["not_yet_told"] == 9
    rj = next(c for c in failures.values() if c["stage"] == "recover")
    keys = [c["key"] for c in b["candidates"]]
    assert keys[-1] != rj["key"]
    olist.brief_act(rj["key"], "asked the RJ carrier for a plan", "dana", as_of=when)
    again = olist.brief(v, as_of=when)
    assert [c["key"] for c in again["candidates"]][-1] == rj["key"]  # below the others
    assert again["candidates"][-1]["acted"]["figures_changed"] is False
    later = _systemic(olist.brief(v, as_of=datetime(2018, 1, 10)))[rj["key"]]
    # a customer more complained since: the item is ranked by its reach again
    assert later["acted"]["figures_changed"] is True and later["audience"] != rj["audience"]


def test_cli_brief_as_of_with_own_detectors(
    olist: cxloop.Cxloop, voice: Voice, tmp_path: Path
) -> None:
    from tests.test_cli import run

    specs = tmp_path / "detectors.toml"
    specs.write_text(ONLY_REGION)
    home = olist.workspace.home
    out = run(home, "brief", "--as-of", "2017-12-28", "--detectors", str(specs), "-f", "json")
    b = json.loads(out.stdout)
    assert b["as_of"] == "2017-12-28T00:00:00"
    failures = {c["title"][:6]: c["stage"] for c in _systemic(b).values()}
    assert failures == {"RJ: 16": "recover", "SP: 27": "warn"}  # no seller detector
