"""Signals that raise cases, found in the promise ledger and the event log.

Each function is an Ibis expression (portable; small results come back as
pandas). Every signal names its customer, its *subject* (the issue: an order
id where the facts reach one, else the contact or promise ref), its time and
the facts the severity rules need.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.domain.cases import SignalRules
from cxloop.domain.events import EventType
from cxloop.domain.promises import PromiseState

#: Columns every signal query returns.
SIGNAL_COLUMNS = (
    "kind",
    "customer_id",
    "subject",
    "ts",
    "department",
    "source_ref",
    "promise_kind",
    "breach",
    "late_hours",
    "score",
    "metric",
    "contacts",
    "hold_seconds",
    "transfers",
    "detail_ref",
)


def contacts(events: ir.Table) -> ir.Table:
    """Inbound contacts with the order they are about (``attrs.order``) and their issue key."""
    c = events.filter(events.event_type == EventType.CONTACT_INBOUND.value)
    order = attr_text(c.attrs, "order")
    topic = attr_text(c.attrs, "topic")
    return c.select(
        contact_ref=c.ref,
        customer_id=c.customer_id,
        ts=c.ts,
        order=order,
        topic=topic,
        issue=ibis.coalesce(order, topic, c.ref),
        queue_seconds=attr_number(c.attrs, "hold_seconds"),
        department=c.department,
    )


def _subject(t: ir.Table, ref: ir.StringValue, cons: ir.Table) -> ir.Table:
    """Attach ``subject``: the order a contact ref is about, else the ref itself."""
    # one order per contact (the first by id: deterministic, and portable, unlike distinct-on)
    m = cons.group_by(m_ref=cons.contact_ref).aggregate(m_order=cons.order.min())
    j = t.left_join(m, ref == m.m_ref)
    return j.mutate(subject=ibis.coalesce(j.m_order, ref)).drop("m_ref", "m_order")


def _typed(t: ir.Table, **values: ir.Value | str | float | int | None) -> ir.Table:
    """Fill the missing signal columns with typed nulls / defaults, in order."""
    defaults: dict[str, ir.Value] = {
        "promise_kind": ibis.literal("", "string"),
        "breach": ibis.literal("", "string"),
        "late_hours": ibis.literal(0.0, "float64"),
        "score": ibis.null("float64"),
        "metric": ibis.literal("", "string"),
        "contacts": ibis.literal(0, "int64"),
        "hold_seconds": ibis.literal(0.0, "float64"),
        "transfers": ibis.literal(0, "int64"),
        "detail_ref": ibis.literal("", "string"),
    }
    cols: dict[str, ir.Value] = {}
    for name in SIGNAL_COLUMNS:
        v = values.get(name, defaults.get(name))
        cols[name] = v if isinstance(v, ir.Value) else ibis.literal(v)
    return t.select(**cols)


def promise_signals(ledger: ir.Table, cons: ir.Table, since: datetime) -> ir.Table:
    """Broken promises (known when they fall due) and promises at risk now."""
    broken = ledger.filter(
        (ledger.state == PromiseState.BROKEN.value) & (ledger.due_at >= since)
    ).mutate(s_kind=ibis.literal("broken_promise"), s_ts=ledger.due_at)
    risky = ledger.filter(
        (ledger.state == PromiseState.AT_RISK.value) & (ledger.at_risk_at >= since)
    ).mutate(s_kind=ibis.literal("at_risk_promise"), s_ts=ledger.at_risk_at)
    both = _subject(broken.union(risky), broken.union(risky).ref, cons)
    return _typed(
        both,
        kind=both.s_kind,
        customer_id=both.customer_id,
        subject=both.subject,
        ts=both.s_ts,
        department=both.department,
        source_ref=both.promise_id,
        promise_kind=both.kind,
        breach=ibis.coalesce(both.breach, both.at_risk_reason, ""),
        late_hours=ibis.coalesce(both.late_hours, 0.0),
        detail_ref=both.ref,
    )


def feedback_signals(events: ir.Table, rules: SignalRules, since: datetime) -> ir.Table:
    """Reviews and survey answers at or below the thresholds for their metric."""
    f = events.filter(
        events.event_type.isin([EventType.REVIEW.value, EventType.SURVEY_RESPONSE.value])
        & (events.ts >= since)
    )
    metric = ibis.coalesce(
        attr_text(f.attrs, "metric").lower(),
        ibis.ifelse(f.event_type == EventType.REVIEW.value, "review", "csat"),
    )
    f = f.mutate(metric=metric, score=attr_number(f.attrs, "score"))
    limit = ibis.cases(
        (f.metric == "nps", rules.nps_detractor),
        (f.metric == "ces", rules.ces_low),
        else_=rules.low_review,
    )
    bad = f.filter(f.score.notnull() & (f.score <= limit))
    return _typed(
        bad,
        kind="negative_feedback",
        customer_id=bad.customer_id,
        subject=ibis.coalesce(bad.ref, bad.event_id),
        ts=bad.ts,
        department=bad.department,
        source_ref=bad.event_id,
        score=bad.score,
        metric=bad.metric,
        detail_ref=attr_text(bad.attrs, "text"),
    )


def repeat_contact_signals(cons: ir.Table, rules: SignalRules, since: datetime) -> ir.Table:
    """A contact on the same issue as the customer's previous one, within the window."""
    w = ibis.window(group_by=["customer_id", "issue"], order_by="ts")
    c = cons.mutate(prev=cons.ts.lag().over(w), nth=ibis.row_number().over(w) + 1)
    within = rules.repeat_within.total_seconds()
    gap = c.ts.epoch_seconds() - c.prev.epoch_seconds()
    rep = c.filter(c.prev.notnull() & (gap <= within) & (c.ts >= since))
    return _typed(
        rep,
        kind="repeat_contact",
        customer_id=rep.customer_id,
        subject=ibis.coalesce(rep.order, rep.contact_ref),
        ts=rep.ts,
        department=rep.department,
        source_ref=rep.contact_ref,
        contacts=rep.nth.cast("int64"),
        detail_ref=ibis.coalesce(rep.topic, ""),
    )


def effort_signals(
    events: ir.Table, cons: ir.Table, rules: SignalRules, since: datetime
) -> ir.Table:
    """Contacts with a long hold or queue wait, and contacts transferred too often."""
    kinds = [EventType.HOLD.value, EventType.TRANSFER.value, EventType.CONTACT_INBOUND.value]
    e = events.filter(events.event_type.isin(kinds) & (events.ts >= since))
    per = e.group_by(e.ref).aggregate(
        hold=attr_number(e.attrs, "hold_seconds").max(),
        n_transfers=(e.event_type == EventType.TRANSFER.value).sum().cast("int64"),
        first=e.ts.min(),
    )
    j = per.join(cons, per.ref == cons.contact_ref)
    long_hold = j.filter(j.hold >= rules.long_hold_seconds)
    transfers = j.filter(j.n_transfers >= rules.transfers)

    def shape(t: ir.Table, kind: str) -> ir.Table:
        return _typed(
            t,
            kind=kind,
            customer_id=t.customer_id,
            subject=ibis.coalesce(t.order, t.contact_ref),
            ts=t.ts,
            department=t.department,
            source_ref=t.contact_ref,
            hold_seconds=ibis.coalesce(t.hold, 0.0),
            transfers=t.n_transfers,
            detail_ref=ibis.coalesce(t.topic, ""),
        )

    return shape(long_hold, "long_hold").union(shape(transfers, "transfers"))


def all_signals(
    events: ir.Table, ledger: ir.Table, rules: SignalRules, as_of: datetime
) -> ir.Table:
    """Every signal since ``as_of - rules.open_window``, one row each."""
    since = as_of - rules.open_window
    cons = contacts(events)
    parts = [
        promise_signals(ledger, cons, since),
        feedback_signals(events, rules, since),
        repeat_contact_signals(cons, rules, since),
        effort_signals(events, cons, rules, since),
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out.filter(out.ts <= as_of).order_by(["ts", "kind", "source_ref"])


def customer_value(events: ir.Table) -> ir.Table:
    """Per customer: orders, spend, first and last order."""
    o = events.filter(events.event_type == EventType.ORDER_PLACED.value)
    return o.group_by("customer_id").aggregate(
        orders=o.count(),
        spend=ibis.coalesce(o.amount.sum(), 0.0),
        first_order=o.ts.min(),
        last_order=o.ts.max(),
    )


def remedy_history(
    events: ir.Table, ledger: ir.Table, kind: str, as_of: datetime, horizon: timedelta
) -> ir.Table:
    """Past broken promises of ``kind`` (old enough to see what happened next): the money
    given back on the same subject within 30 days (credit or refund) as a share of the
    order, and whether the customer ordered again within ``horizon`` after the due time."""
    cons = contacts(events)
    b = ledger.filter(
        (ledger.kind == kind)
        & (ledger.state == PromiseState.BROKEN.value)
        & (ledger.due_at <= as_of - horizon)
    )
    b = _subject(b, b.ref, cons).select("promise_id", "customer_id", "subject", "due_at")
    orders = events.filter(events.event_type == EventType.ORDER_PLACED.value)
    value = orders.group_by(v_ref=orders.ref).aggregate(order_amount=orders.amount.max())
    money = events.filter(
        events.event_type.isin([EventType.CREDIT_ISSUED.value, EventType.REFUND_ISSUED.value])
    ).select(g_cust=events.customer_id, g_ref=events.ref, g_ts=events.ts, g_amt=events.amount)
    gj = b.join(
        money,
        (b.customer_id == money.g_cust)
        & (b.subject == money.g_ref)
        & (money.g_ts >= b.due_at - ibis.interval(days=1))
        & (money.g_ts <= b.due_at + ibis.interval(days=30)),
    )
    given = gj.group_by("promise_id").aggregate(given=gj.g_amt.sum())
    nxt = orders.select(n_cust=orders.customer_id, n_ts=orders.ts)
    nj = b.join(
        nxt,
        (b.customer_id == nxt.n_cust)
        & (nxt.n_ts > b.due_at)
        & (nxt.n_ts <= b.due_at + ibis.interval(seconds=int(horizon.total_seconds()))),
    )
    again = nj.group_by("promise_id").aggregate(reordered=nj.count())
    out = b.left_join(given, "promise_id").left_join(again, "promise_id")
    out = out.left_join(value, out.subject == value.v_ref)
    return out.select(
        "promise_id",
        "customer_id",
        given=ibis.coalesce(out.given, 0.0),
        order_amount=out.order_amount,
        retained=ibis.coalesce(out.reordered, 0) > 0,
    )
