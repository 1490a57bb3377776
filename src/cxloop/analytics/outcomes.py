"""Purchases, cohorts, lifecycle states and first promise outcomes as Ibis expressions.

Portable (DuckDB, PostgreSQL, Spark): windows, joins and aggregates only. A *visit* is a
customer's purchases merged while each follows the previous one within the split-order gap
(inclusive): repeat orders within it are split orders, not loyalty. Periods are numbered:
a month is ``year * 12 + month - 1``; a week (Monday to Sunday) is ``(days since
1970-01-01 + 3) // 7``. The semantics are documented in docs/outcomes.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.domain.outcomes import OutcomesConfig

_DAY = 86400


def period_index(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    """The period a time falls in, as a whole number (see the module docstring)."""
    if period == "month":
        return (ts.year() * 12 + ts.month() - 1).cast("int64")
    days = (ts.epoch_seconds() / _DAY).floor().cast("int64")
    return ((days + 3) / 7).floor().cast("int64")


def _secs(ts: ir.TimestampValue) -> ir.FloatingValue:
    return ts.epoch_seconds().cast("float64")


def purchase_events(events: ir.Table, cfg: OutcomesConfig, as_of: datetime) -> ir.Table:
    """The purchases known as of ``as_of``: customer, time, event id, value, attributes."""
    p = events.filter(
        events.event_type.isin(list(cfg.purchase_events)),
        events.ts <= ibis.literal(as_of, type="timestamp"),
    )
    attr = cfg.value_attr
    value = attr_number(p.attrs, attr) if attr else p.amount.cast("float64")
    return p.select("customer_id", "ts", "event_id", "channel", "department", "attrs", value=value)


def visits(purchases: ir.Table, gap: timedelta) -> ir.Table:
    """One row per visit: ``customer_id, visit`` (1, 2, ...), ``ts`` (its first purchase),
    ``value`` (their sum, missing values as 0) and ``orders``."""
    p = purchases.select("customer_id", "ts", "event_id", "value")
    order = [p.ts, p.event_id]
    p = p.mutate(prev=p.ts.lag().over(ibis.window(group_by=p.customer_id, order_by=order)))
    new = p.prev.isnull() | ((_secs(p.ts) - _secs(p.prev)) > gap.total_seconds())
    p = p.mutate(new=ibis.ifelse(new, 1, 0))
    running = ibis.window(group_by=p.customer_id, order_by=[p.ts, p.event_id], rows=(None, 0))
    p = p.mutate(visit=p.new.sum().over(running).cast("int64"))
    return p.group_by(["customer_id", "visit"]).aggregate(
        ts=p.ts.min(), value=p.value.sum().fill_null(0.0), orders=p.count()
    )


def first_promises(ledger: ir.Table, rule: str) -> ir.Table:
    """Each customer's first promise of ``rule`` (by opening time): its ledger row."""
    t = ledger.filter(ledger.rule == rule)
    w = ibis.window(group_by=t.customer_id, order_by=[t.opened_at, t.promise_id])
    t = t.mutate(rn=ibis.row_number().over(w))
    return t.filter(t.rn == 0).drop("rn")


def segments(purchases: ir.Table, ledger: ir.Table, cfg: OutcomesConfig, by: str) -> ir.Table:
    """Per customer the group ``by`` puts them in: ``promise`` (their first promise's
    outcome; ``none`` without one), ``channel`` or ``department`` of their first purchase,
    or an attribute of it (``(missing)`` when absent)."""
    p = purchases
    w = ibis.window(group_by=p.customer_id, order_by=[p.ts, p.event_id])
    first = p.mutate(rn=ibis.row_number().over(w))
    first = first.filter(first.rn == 0)
    if by == "promise":
        fp = first_promises(ledger, cfg.promise_rule).select(
            fp_customer="customer_id", fp_state="state"
        )
        j = first.left_join(fp, first.customer_id == fp.fp_customer)
        return j.select("customer_id", segment=j.fp_state.fill_null("none"))
    if by in ("channel", "department"):
        return first.select("customer_id", segment=first[by].fill_null("(missing)"))
    return first.select("customer_id", segment=attr_text(first.attrs, by).fill_null("(missing)"))


def with_segment(v: ir.Table, seg: ir.Table | None) -> ir.Table:
    if seg is None:
        return v.mutate(segment=ibis.literal("all"))
    s = seg.select(s_customer="customer_id", segment="segment")
    j = v.left_join(s, v.customer_id == s.s_customer)
    return j.drop("s_customer").mutate(segment=j.segment.fill_null("(missing)"))


def active_periods(v: ir.Table, period: str, seg: ir.Table | None) -> ir.Table:
    """Per customer and period with a visit: ``segment, customer_id, p, cohort, value``."""
    v = v.mutate(p=period_index(v.ts, period))
    act = v.group_by(["customer_id", "p"]).aggregate(value=v.value.sum())
    act = act.mutate(cohort=act.p.min().over(ibis.window(group_by=act.customer_id)))
    return with_segment(act, seg)


def retention_counts(active: ir.Table) -> ir.Table:
    """Customers and revenue per segment, cohort and offset (periods since the cohort's)."""
    a = active.mutate(offset=active.p - active.cohort)
    return a.group_by(["segment", "cohort", "offset"]).aggregate(
        customers=a.customer_id.nunique(), revenue=a.value.sum()
    )


def lifecycle_rows(active: ir.Table, last: int) -> ir.Table:
    """Per customer and period its lifecycle state (PostHog's): ``new`` (first purchase),
    ``returning`` (bought the period before too), ``resurrecting`` (bought, not the
    period before, but earlier), ``dormant`` (bought the period before, not this one);
    periods up to ``last`` (the as-of period)."""
    a = active
    w = ibis.window(group_by=a.customer_id, order_by=a.p)
    a = a.mutate(prev=a.p.lag().over(w), nxt=a.p.lead().over(w))
    state = ibis.cases(
        (a.p == a.cohort, "new"), (a.prev == a.p - 1, "returning"), else_="resurrecting"
    )
    live = a.select("segment", "customer_id", "p", state=state)
    gone = a.filter((a.nxt.isnull() | (a.nxt != a.p + 1)) & (a.p + 1 <= last))
    dormant = gone.select(
        "segment", "customer_id", p=(gone.p + 1).cast("int64"), state=ibis.literal("dormant")
    )
    return live.union(dormant)


def repeat_counts(
    v: ir.Table, seg: ir.Table | None, horizons: tuple[timedelta, ...], as_of: datetime
) -> ir.Table:
    """Per segment: customers, repeat customers (two visits or more), and per window H the
    customers whose first visit is at least H before ``as_of`` and those of them with a
    second visit within H of the first."""
    per = v.group_by("customer_id").aggregate(
        first_ts=v.ts.min(),
        second_ts=v.ts.min(where=v.visit == 2),
        n_visits=v.visit.max(),
        revenue=v.value.sum(),
    )
    per = with_segment(per, seg)
    end = _secs(ibis.literal(as_of, type="timestamp"))
    metrics: dict[str, ir.Scalar] = {
        "customers": per.count(),
        "repeaters": (per.n_visits >= 2).sum().cast("int64"),
        "revenue": per.revenue.sum(),
    }
    for h in horizons:
        name = f"{h.total_seconds() / _DAY:g}d"
        hs = h.total_seconds()
        seen = (_secs(per.first_ts) + hs) <= end
        again = per.second_ts.notnull() & ((_secs(per.second_ts) - _secs(per.first_ts)) <= hs)
        metrics[f"observed_{name}"] = seen.sum().cast("int64")
        metrics[f"repeat_{name}"] = (seen & again).sum().cast("int64")
    return per.group_by("segment").aggregate(**metrics)


def customer_visits(v: ir.Table) -> ir.Table:
    """Per customer: first and second visit times, visits, revenue (for drill-downs)."""
    return v.group_by("customer_id").aggregate(
        first_ts=v.ts.min(),
        second_ts=v.ts.min(where=v.visit == 2),
        n_visits=v.visit.max(),
        revenue=v.value.sum(),
    )


def promise_units(
    events: ir.Table, ledger: ir.Table, v: ir.Table, cfg: OutcomesConfig, as_of: datetime
) -> ir.Table:
    """One row per customer with a first promise of the rule: its state, when it was
    resolved (``t0``: fulfilled, else due), what was known when it opened (the opening
    event's amount, attributes, lead time) and the outcomes after ``t0``: a visit and its
    revenue within each window, and the mean review score of the promise's ref."""
    fp = first_promises(ledger, cfg.promise_rule)
    fp = fp.mutate(t0=fp.fulfilled_at.fill_null(fp.due_at))
    opener = events.select(o_id="event_id", o_attrs="attrs")
    u = fp.left_join(opener, fp.source_event_id == opener.o_id)
    feats: dict[str, ir.Value] = {f"cat_{k}": attr_text(u.o_attrs, k) for k in cfg.categorical}
    feats.update({f"num_{k}": attr_number(u.o_attrs, k) for k in cfg.numeric})
    u = u.select(
        "customer_id",
        "state",
        "ref",
        "opened_at",
        "due_at",
        "t0",
        order_amount=u.amount.cast("float64"),
        lead_days=(_secs(u.due_at) - _secs(u.opened_at)) / _DAY,
        **feats,
    )
    vv = v.select(v_customer="customer_id", v_ts="ts", v_value="value")
    j = u.left_join(vv, u.customer_id == vv.v_customer)
    outs: dict[str, ir.Scalar] = {}
    for h in cfg.horizons:
        name = f"{h.total_seconds() / _DAY:g}d"
        inside = (j.v_ts > j.t0) & ((_secs(j.v_ts) - _secs(j.t0)) <= h.total_seconds())
        outs[f"visits_{name}"] = inside.fill_null(False).sum().cast("int64")
        outs[f"revenue_{name}"] = ibis.ifelse(inside.fill_null(False), j.v_value, 0.0).sum()
    keys = [c for c in u.columns]
    agg = j.group_by(keys).aggregate(**outs)
    return _with_review(agg, events, cfg, as_of)


def _with_review(u: ir.Table, events: ir.Table, cfg: OutcomesConfig, as_of: datetime) -> ir.Table:
    r = events.filter(
        events.event_type == cfg.review_event,
        events.ts <= ibis.literal(as_of, type="timestamp"),
    )
    r = r.select(
        r_customer="customer_id", r_ref="ref", r_score=attr_number(r.attrs, cfg.review_score)
    )
    r = r.group_by(["r_customer", "r_ref"]).aggregate(review_score=r.r_score.mean())
    j = u.left_join(r, (u.customer_id == r.r_customer) & (u.ref == r.r_ref))
    return j.drop("r_customer", "r_ref")
