"""Health features per customer from the log as it was before a cut-off, engine-side.

Every fact counted happened strictly before ``cutoff``: a later event cannot change a
customer's features (the leakage guard the tests check). Promises count as kept or broken
only where that was known before the cut-off: fulfilled before it (kept, exceeded or late),
or due before it and not fulfilled by then (overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number
from cxloop.domain.promises import KEPT_STATES, PromiseState

#: The features, in order (docs/outcomes-churn.md explains each).
FEATURES = (
    "recency_days",
    "tenure_days",
    "order_days",
    "monetary",
    "mean_order_value",
    "contacts",
    "effort_events",
    "cancels",
    "refunds",
    "mean_score",
    "low_scores",
    "promises_kept",
    "promises_broken",
)


@dataclass(frozen=True)
class HealthSpec:
    """Which event types mean what (rules/health.toml, or the setting health_spec)."""

    purchase: str = "order_placed"
    contacts: tuple[str, ...] = ("contact_inbound",)
    effort: tuple[str, ...] = ("transfer", "hold")
    cancels: tuple[str, ...] = ("order_canceled",)
    refunds: tuple[str, ...] = ("refund_requested",)
    scores: tuple[str, ...] = ("review", "survey_response")
    score_key: str = "score"
    low_score: float = 2.0
    promise_rules: tuple[str, ...] = ()
    split_within_hours: float = 24.0


def _days(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    secs = later.epoch_seconds() - earlier.epoch_seconds()
    return (secs / 86400.0).cast("float64")


def _count(cond: ir.BooleanValue) -> ir.IntegerScalar:
    # a CASE, not a cast: PostgreSQL cannot cast a boolean to bigint
    return ibis.ifelse(cond.fill_null(False), 1, 0).sum().cast("int64")


def features(events: ir.Table, ledger: ir.Table, cutoff: datetime, spec: HealthSpec) -> ir.Table:
    """One row per customer with a purchase before ``cutoff``: :data:`FEATURES`."""
    at = ibis.literal(cutoff).cast("timestamp")
    before = events.filter(events.ts < at)
    buys = before.filter(before.event_type == spec.purchase)
    base = buys.group_by("customer_id").aggregate(
        recency_days=_days(at, buys.ts.max()),
        tenure_days=_days(at, buys.ts.min()),
        order_days=buys.ts.date().nunique().cast("int64"),
        monetary=buys.amount.sum().fill_null(0.0).cast("float64"),
        mean_order_value=buys.amount.mean().cast("float64"),
    )
    e = before.filter(before.customer_id.isin(base.customer_id))
    score = attr_number(e.attrs, spec.score_key)
    is_score = e.event_type.isin(list(spec.scores)) if spec.scores else ibis.literal(False)
    acts = e.group_by(e.customer_id.name("a_customer")).aggregate(
        contacts=_count(e.event_type.isin(list(spec.contacts) or [""])),
        effort_events=_count(e.event_type.isin(list(spec.effort) or [""])),
        cancels=_count(e.event_type.isin(list(spec.cancels) or [""])),
        refunds=_count(e.event_type.isin(list(spec.refunds) or [""])),
        mean_score=ibis.ifelse(is_score, score, ibis.null("float64")).mean().cast("float64"),
        low_scores=_count(is_score & (score <= spec.low_score)),
    )
    promises = _promises(ledger, at, spec)
    joined = base.left_join(acts, base.customer_id == acts.a_customer).left_join(
        promises, base.customer_id == promises.p_customer
    )
    counts = ("contacts", "effort_events", "cancels", "refunds", "low_scores")
    return joined.select(
        "customer_id",
        "recency_days",
        "tenure_days",
        "order_days",
        "monetary",
        "mean_order_value",
        *[joined[c].fill_null(0).cast("int64").name(c) for c in counts[:4]],
        "mean_score",
        joined.low_scores.fill_null(0).cast("int64").name("low_scores"),
        joined.promises_kept.fill_null(0).cast("int64").name("promises_kept"),
        joined.promises_broken.fill_null(0).cast("int64").name("promises_broken"),
    )


def _promises(ledger: ir.Table, at: ir.TimestampValue, spec: HealthSpec) -> ir.Table:
    t = ledger.filter(ledger.opened_at < at)
    if spec.promise_rules:
        t = t.filter(t.rule.isin(list(spec.promise_rules)))
    done = t.fulfilled_at.notnull() & (t.fulfilled_at < at)
    kept = done & t.state.isin([s.value for s in KEPT_STATES])
    late = done & (t.state == PromiseState.BROKEN.value)
    overdue = (t.due_at < at) & ~done & (t.voided_at.isnull() | (t.voided_at >= at))
    return t.group_by(t.customer_id.name("p_customer")).aggregate(
        promises_kept=_count(kept), promises_broken=_count(late | overdue)
    )


def purchased_within(
    events: ir.Table, start: datetime, end: datetime, spec: HealthSpec
) -> ir.Table:
    """The customers with a purchase in ``[start, end)`` (the label's positives are the
    customers *not* in it); one within ``split_within_hours`` of their last purchase before
    ``start`` is that purchase split in parts (Olist), not a return."""
    lo, hi = ibis.literal(start).cast("timestamp"), ibis.literal(end).cast("timestamp")
    buys = events.filter(events.event_type == spec.purchase)
    before = buys.filter(buys.ts < lo)
    last = before.group_by(l_customer=before.customer_id).aggregate(
        last_s=before.ts.max().epoch_seconds()
    )
    window = buys.filter((buys.ts >= lo) & (buys.ts < hi))
    j = window.left_join(last, window.customer_id == last.l_customer)
    secs = j.ts.epoch_seconds() - j.last_s
    again = j.last_s.isnull() | (secs > spec.split_within_hours * 3600)
    return j.filter(again).select(b_customer=j.customer_id).distinct()
