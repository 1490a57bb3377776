"""Funnels and paths on the public Olist data agree with plain pandas over the raw CSVs.

The reference rebuilds each customer's events from the CSVs (not from the store) and walks
them in Python: every order placed starts an attempt; each next step is the customer's first
event of that type after the previous step, within the window; the customer counts with the
attempt that got furthest (the earliest of those).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxloop
from cxloop.services.journeys.funnels import FunnelResult
from tests.conftest import shared_dataset

pytestmark = pytest.mark.olist

STEPS = ["order_placed", "payment_received", "order_shipped", "order_delivered", "review"]
WINDOW_S = 60 * 86400  # the built-in funnel's window


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> tuple[cxloop.Cxloop, Path]:
    data = shared_dataset("olist")
    cx = cxloop.open(tmp_path_factory.mktemp("olist-funnel") / "store")
    cx.ingest(data, source="olist")
    yield cx, data
    cx.close()


def raw_events(data: Path) -> pd.DataFrame:
    """customer, event type, time, event id: straight from the CSVs."""
    orders = pd.read_csv(data / "olist_orders_dataset.csv")
    people = pd.read_csv(data / "olist_customers_dataset.csv")
    reviews = pd.read_csv(data / "olist_order_reviews_dataset.csv")
    times = [
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
    ]
    for c in times:
        orders[c] = pd.to_datetime(orders[c])
    # an order "delivered" without a delivery date is quarantined, with its reviews
    bad = (orders.order_status == "delivered") & orders.order_delivered_customer_date.isna()
    orders = orders[~bad].merge(people[["customer_id", "customer_unique_id"]], on="customer_id")
    parts = []
    for etype, col in zip(STEPS[:4], times, strict=True):
        o = orders[orders[col].notna()]
        parts.append(
            pd.DataFrame(
                {
                    "customer": o.customer_unique_id,
                    "type": etype,
                    "ts": o[col],
                    "eid": "olist:" + etype + ":" + o.order_id,
                }
            )
        )
    gone = orders[orders.order_status.isin(["canceled", "unavailable"])]
    parts.append(
        pd.DataFrame(
            {
                "customer": gone.customer_unique_id,
                "type": "order_canceled",
                "ts": gone[times].max(axis=1),
                "eid": "olist:order_canceled:" + gone.order_id,
            }
        )
    )
    r = reviews.merge(orders[["order_id", "customer_unique_id"]], on="order_id")
    ts = pd.to_datetime(r.review_answer_timestamp).fillna(pd.to_datetime(r.review_creation_date))
    parts.append(
        pd.DataFrame(
            {
                "customer": r.customer_unique_id,
                "type": "review",
                "ts": ts,
                "eid": "olist:review:" + r.review_id + ":" + r.order_id,
            }
        )
    )
    return pd.concat(parts, ignore_index=True).sort_values(["customer", "ts", "eid"])


def reference_funnel(
    events: pd.DataFrame, steps: list[str], exclude: str | None = None
) -> dict[str, tuple[int, float | None]]:
    """Per customer who started: (steps reached, seconds to convert or None)."""
    by_customer: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for c, t, ts in zip(events.customer, events.type, events.ts, strict=True):
        by_customer[c].append((ts.timestamp(), t))
    out: dict[str, tuple[int, float | None]] = {}
    for c, evs in by_customer.items():
        best: tuple[int, float | None] | None = None
        for i, (t0, typ) in enumerate(evs):
            if typ != steps[0]:
                continue
            reached, pos, last = 1, i, t0
            for step in steps[1:]:
                nxt = next((j for j in range(pos + 1, len(evs)) if evs[j][1] == step), None)
                if nxt is None or evs[nxt][0] - t0 > WINDOW_S:
                    break
                reached, pos, last = reached + 1, nxt, evs[nxt][0]
            if exclude is not None:
                full = reached == len(steps)
                end = last if full else t0 + WINDOW_S
                later = [e[0] for e in evs[i + 1 :] if e[1] == exclude]
                if any(x < end or (not full and x == end) for x in later):
                    continue
            done = last - t0 if reached == len(steps) else None
            if best is None or reached > best[0]:
                best = (reached, done)
        if best is not None:
            out[c] = best
    return out


@pytest.fixture(scope="module")
def reference(olist: tuple[cxloop.Cxloop, Path]) -> pd.DataFrame:
    return raw_events(olist[1])


@pytest.fixture(scope="module")
def built_in(olist: tuple[cxloop.Cxloop, Path]) -> FunnelResult:
    return olist[0].funnel()


def test_built_in_funnel_matches_pandas(
    olist: tuple[cxloop.Cxloop, Path], reference: pd.DataFrame, built_in: FunnelResult
) -> None:
    cx, result = olist[0], built_in
    want = reference_funnel(reference, STEPS)
    counts = [sum(1 for r, _ in want.values() if r >= k + 1) for k in range(len(STEPS))]
    assert list(result.steps.customers) == counts
    assert counts[0] > 7000 and counts[-1] > 4000  # the data is what docs/funnels.md says
    assert list(result.steps.dropped[1:]) == [a - b for a, b in pairwise(counts)]
    hours = np.array([s for _, s in want.values() if s is not None]) / 3600
    assert result.time_to_convert["converted"] == len(hours)
    assert result.time_to_convert["median"] == pytest.approx(np.median(hours), abs=1e-3)
    # the drill-down: exactly the customers the reference says dropped at "delivered"
    dropped = cx.funnel_dropped(result, "delivered")
    assert set(dropped.customer_id) == {c for c, (r, _) in want.items() if r == 3}
    assert len(dropped) == result.steps.dropped[3]


def test_exclusion_matches_pandas(
    olist: tuple[cxloop.Cxloop, Path], reference: pd.DataFrame
) -> None:
    cx, _ = olist
    steps = ["order_placed", "order_shipped", "order_delivered"]
    result = cx.funnel(steps, window="60d", exclude=["order_canceled"])
    want = reference_funnel(reference, steps, exclude="order_canceled")
    counts = [sum(1 for r, _ in want.values() if r >= k + 1) for k in range(len(steps))]
    assert list(result.steps.customers) == counts
    plain = cx.funnel(steps, window="60d")
    assert plain.steps.customers[0] > counts[0]  # some attempts were removed


def test_next_events_after_dropping_match_pandas(
    olist: tuple[cxloop.Cxloop, Path], reference: pd.DataFrame, built_in: FunnelResult
) -> None:
    cx, result = olist[0], built_in
    nxt = cx.funnel_next(result, "delivered", steps=1, top=20)
    dropped = cx.funnel_dropped(result, "delivered")
    assert int(nxt.customers.sum()) == len(dropped) == nxt.attrs["total"]
    # pandas: each such customer's first event after their last step ("shipped")
    m = dropped.merge(reference, left_on="customer_id", right_on="customer")
    m = m[m.ts > m.last_step_at].sort_values(["customer", "ts", "eid"])
    first_after = m.groupby("customer").type.first().to_dict()
    first_after |= {c: "(end)" for c in dropped.customer_id if c not in first_after}
    want = pd.Series(first_after).value_counts()
    got = dict(zip(nxt.event_1, nxt.customers, strict=True))
    assert got == want.to_dict()


def test_paths_after_a_step_match_pandas(
    olist: tuple[cxloop.Cxloop, Path], reference: pd.DataFrame
) -> None:
    cx, _ = olist
    paths = cx.paths(after="review where score<=2", steps=2, top=50)
    people = set(cx.path_customers(1, after="review where score<=2", steps=2).customer_id)
    assert len(people) == paths.customers.iloc[0]
    assert paths.attrs["total"] == int(paths.customers.sum())  # top 50 covers them all here
    assert paths.share.sum() == pytest.approx(1.0)
