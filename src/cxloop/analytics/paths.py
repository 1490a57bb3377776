"""Paths as portable Ibis: the event types customers followed after, before or between
anchor events, one row per customer pivoted into ``p0..p{n-1}`` (the nearest first), then
counted per path.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cxloop.analytics.funnels import step_match
from cxloop.domain.funnels import PathSpec, Step

END = "(end)"


def first_anchor(events: ir.Table, step: Step) -> ir.Table:
    """Per customer, the time (epoch seconds) of their first event of ``step``."""
    hit = events.filter(step_match(events, step) & events.customer_id.notnull())
    return hit.group_by(hit.customer_id).aggregate(a_e=hit.ts.epoch_seconds().cast("float64").min())


def anchors(events: ir.Table, spec: PathSpec) -> ir.Table:
    """``customer_id, a_e`` and, between two steps, ``b_e`` (the first end after the start;
    customers who never reached it are left out)."""
    a = first_anchor(events, spec.anchor)
    if spec.direction != "between":
        return a.mutate(b_e=ibis.null("float64"))
    assert spec.end is not None
    hit = events.filter(step_match(events, spec.end))
    j = a.join(hit, a.customer_id == hit.customer_id)
    e = j.ts.epoch_seconds().cast("float64")
    j = j.filter(e > j.a_e)
    return j.group_by([j.customer_id, j.a_e]).aggregate(b_e=e.min())


def pivot(events: ir.Table, starts: ir.Table, direction: str, steps: int) -> ir.Table:
    """One row per customer of ``starts`` (``customer_id, a_e, b_e``): ``p0..`` the event
    types after ``a_e`` (before it, for ``before``; nearest first), NULL past the last."""
    ev = events.select(
        _c=events.customer_id,
        _e=events.ts.epoch_seconds().cast("float64"),
        _id=events.event_id,
        _t=events.event_type,
    )
    j = starts.join(ev, starts.customer_id == ev._c)
    if direction == "before":
        j = j.filter(j._e < j.a_e)
        order = [ibis.desc(j._e), ibis.desc(j._id)]
    else:
        j = j.filter(j._e > j.a_e)
        if direction == "between":
            j = j.filter(j._e < j.b_e)
        order = [j._e, j._id]
    w = ibis.window(group_by=j.customer_id, order_by=order)
    j = j.mutate(_rn=ibis.row_number().over(w))
    j = j.filter(j._rn < steps)
    nulls = ibis.null("string")
    wide = j.group_by(j.customer_id).aggregate(
        **{f"p{k}": ibis.ifelse(j._rn == k, j._t, nulls).max() for k in range(steps)}
    )
    out = starts.left_join(wide, starts.customer_id == wide.customer_id)
    return out.select(
        customer_id=out.customer_id,
        **{f"p{k}": out[f"p{k}"].fill_null(END) for k in range(steps)},
    )


def top_paths(wide: ir.Table, steps: int, top: int) -> ir.Table:
    """The ``top`` commonest paths and their customers."""
    cols = [f"p{k}" for k in range(steps)]
    counted = wide.group_by(cols).aggregate(customers=wide.count())
    return counted.order_by([ibis.desc(counted.customers), *cols]).limit(top)
