"""Failures, the remedies that followed them, and whether the customer bought again.

Portable Ibis (DuckDB, PostgreSQL, Spark): one row per customer's FIRST broken promise of
each kind (a later failure of the same customer is not independent of the first), with
what was known before it (orders, spend, tenure, earlier broken promises, the order's
amount, how late), the remedies given on the same subject around it, and for each horizon
whether the customer ordered again (orders within ``split_days`` of the failed order are
the same purchase split in parts, not loyalty) and whether the horizon is over yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

from cxloop.analytics.signals import _subject, contacts
from cxloop.domain.events import EventType
from cxloop.domain.promises import PromiseState

DAY_S = 86_400


def _seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    return ts.epoch_seconds()


def first_failures(ledger: ir.Table, cons: ir.Table, as_of: datetime) -> ir.Table:
    """Each customer's first broken promise of each kind, due by ``as_of``, with its subject."""
    b = ledger.filter((ledger.state == PromiseState.BROKEN.value) & (ledger.due_at <= as_of))
    w = ibis.window(group_by=[b.customer_id, b.kind], order_by=[b.due_at, b.promise_id])
    b = b.mutate(nth=ibis.row_number().over(w)).filter(lambda t: t.nth == 0)
    b = _subject(b, b.ref, cons)
    return b.select(
        "promise_id",
        "customer_id",
        "subject",
        kind=b.kind,
        failed_at=b.due_at,
        late_hours=ibis.coalesce(b.late_hours, 0.0),
    )


def _history(f: ir.Table, events: ir.Table, ledger: ir.Table) -> ir.Table:
    """What was known before the failure: orders, spend, tenure, earlier broken promises."""
    o = events.filter(events.event_type == EventType.ORDER_PLACED.value)
    po = o.select(p_cust=o.customer_id, p_ts=o.ts, p_amt=o.amount)
    j = f.join(po, (f.customer_id == po.p_cust) & (po.p_ts < f.failed_at))
    prior = j.group_by(h_id=j.promise_id).aggregate(
        prior_orders=j.count(),
        prior_spend=ibis.coalesce(j.p_amt.sum(), 0.0),
        first_order=j.p_ts.min(),
    )
    lb = ledger.filter(ledger.state == PromiseState.BROKEN.value)
    lb = lb.select(b_cust=lb.customer_id, b_due=lb.due_at)
    k = f.join(lb, (f.customer_id == lb.b_cust) & (lb.b_due < f.failed_at))
    broken = k.group_by(k_id=k.promise_id).aggregate(prior_broken=k.count())
    value = o.group_by(v_ref=o.ref).aggregate(order_amount=o.amount.max(), order_ts=o.ts.min())
    out = f.left_join(prior, f.promise_id == prior.h_id).drop("h_id")
    out = out.left_join(broken, out.promise_id == broken.k_id).drop("k_id")
    out = out.left_join(value, out.subject == value.v_ref).drop("v_ref")
    tenure = (_seconds(out.failed_at) - _seconds(out.first_order)) / DAY_S
    return out.mutate(
        prior_orders=ibis.coalesce(out.prior_orders, 0),
        prior_spend=ibis.coalesce(out.prior_spend, 0.0),
        prior_broken=ibis.coalesce(out.prior_broken, 0),
        tenure_days=ibis.coalesce(tenure, 0.0),
    ).drop("first_order")


def _retained(
    f: ir.Table, events: ir.Table, horizons: Sequence[int], split_days: float, as_of: datetime
) -> ir.Table:
    """Per horizon: ordered again within it (not a split of the failed order), and whether
    the horizon has passed by ``as_of``."""
    o = events.filter(events.event_type == EventType.ORDER_PLACED.value)
    nx = o.select(n_cust=o.customer_id, n_ts=o.ts, n_ref=o.ref)
    placed = ibis.coalesce(f.order_ts, f.failed_at)
    after = _seconds(nx.n_ts) - _seconds(f.failed_at)
    j = f.join(
        nx,
        (f.customer_id == nx.n_cust)
        & (nx.n_ts > f.failed_at)
        & (nx.n_ref != f.subject)
        & (_seconds(nx.n_ts) - _seconds(placed) > int(split_days * DAY_S)),
    )
    j = j.mutate(after_s=after)
    aggs = {f"next_{h}": (j.after_s <= h * DAY_S).ifelse(1, 0).sum() for h in horizons}
    nxt = j.group_by(r_id=j.promise_id).aggregate(**aggs)
    out = f.left_join(nxt, f.promise_id == nxt.r_id).drop("r_id")
    end = int(as_of.timestamp())
    cols: dict[str, ir.Value] = {}
    for h in horizons:
        cols[f"retained_{h}"] = ibis.coalesce(out[f"next_{h}"], 0) > 0
        cols[f"observed_{h}"] = _seconds(out.failed_at) + h * DAY_S <= end
    return out.mutate(**cols).drop(*[f"next_{h}" for h in horizons])


def failures(
    events: ir.Table,
    ledger: ir.Table,
    as_of: datetime,
    horizons: Sequence[int],
    split_days: float,
) -> ir.Table:
    """One row per customer's first broken promise of each kind (see the module)."""
    cons = contacts(events)
    f = first_failures(ledger, cons, as_of)
    return _retained(_history(f, events, ledger), events, horizons, split_days, as_of)


def remedies_given(
    events: ir.Table,
    failed: ir.Table,
    event_types: Sequence[str],
    window_days: int,
    as_of: datetime,
) -> ir.Table:
    """Remedy events on each failure's subject, from a day before it to ``window_days``
    after (and not after ``as_of``): promise_id, event_type, amount (summed), count."""
    cons = contacts(events)
    r = events.filter(events.event_type.isin(list(event_types)) & (events.ts <= as_of))
    s = _subject(r, r.ref, cons)
    r = s.select(
        g_cust=s.customer_id, g_type=s.event_type, g_ts=s.ts, g_amt=s.amount, g_sub=s.subject
    )
    f = failed.select("promise_id", "customer_id", "subject", "failed_at")
    j = f.join(
        r,
        (f.customer_id == r.g_cust)
        & (f.subject == r.g_sub)
        & (_seconds(r.g_ts) >= _seconds(f.failed_at) - DAY_S)
        & (_seconds(r.g_ts) <= _seconds(f.failed_at) + window_days * DAY_S),
    )
    return j.group_by(["promise_id", j.g_type.name("event_type")]).aggregate(
        amount=ibis.coalesce(j.g_amt.sum(), 0.0), given=j.count()
    )
