"""Journeys from the log: each customer's entry into each stage, the stage they were at
when something happened, and the factors and outcomes "where it tanks" compares.

Portable Ibis (DuckDB, PostgreSQL, Spark). A stage is entered by the customer's first
matching event at or after the entry of the stage it follows (not that entry itself; with
``same_ref``, about the same order or case); the first stage by the first matching event.
A customer is *at* a stage from its entry until the next stage they enter (by time), so
every later event, score and text belongs to exactly one stage.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_text
from cxloop.analytics.voice import voice_expr
from cxloop.domain.journeys import COLUMN_ATTRIBUTES, Journey, Stage
from cxloop.domain.scores import Scale

OUTCOME_COLUMNS = ("customer_id", "stage", "stage_index", "entered_at", "outcome", "hit")
ENTRY_COLUMNS = ("customer_id", "event_id", "ts", "ref", "due_at", "channel", "department", "attrs")


def _value(t: ir.Table, key: str) -> ir.StringValue:
    return t[key] if key in COLUMN_ATTRIBUTES else attr_text(t.attrs, key)


def _matches(events: ir.Table, stage: Stage) -> ir.Table:
    t = events.filter(events.event_type.isin(list(stage.events)))
    for key, values in stage.where:
        t = t.filter(_value(t, key).isin(list(values)))
    return t.select(*ENTRY_COLUMNS)


def _first(cand: ir.Table) -> ir.Table:
    w = ibis.window(group_by=cand.customer_id, order_by=[cand.ts, cand.event_id])
    ranked = cand.mutate(rn=ibis.row_number().over(w))
    return ranked.filter(ranked.rn == 0).drop("rn")


def _stage_entries(m: ir.Table, stage: Stage, anchor: ir.Table | None) -> ir.Table:
    if anchor is None:
        cand = m.mutate(anchor_at=ibis.null(m.ts.type()), anchor_due=ibis.null(m.due_at.type()))
    else:
        p = anchor.select(
            p_customer=anchor.customer_id,
            p_event=anchor.event_id,
            p_at=anchor.entered_at,
            p_ref=anchor.ref,
            p_due=anchor.due_at,
        )
        pred = [m.customer_id == p.p_customer, m.ts >= p.p_at, m.event_id != p.p_event]
        if stage.same_ref:
            pred.append(m.ref == p.p_ref)
        j = m.join(p, pred)
        cand = j.select(*ENTRY_COLUMNS, anchor_at=j.p_at, anchor_due=j.p_due)
    first = _first(cand)
    late = (
        (first.anchor_due.notnull() & (first.ts > first.anchor_due)).fill_null(False)
        if stage.due
        else ibis.literal(False)
    )
    return first.select(
        "customer_id",
        "event_id",
        "ref",
        "due_at",
        "channel",
        "department",
        "attrs",
        "anchor_at",
        stage=ibis.literal(stage.name),
        entered_at=first.ts,
        late=late,
    )


def entries(events: ir.Table, journey: Journey, as_of: datetime) -> ir.Table:
    """One row per customer and stage reached: ``entered_at``, the entering event
    (``event_id``, ``ref``, ``due_at``, ``channel``, ``department``, ``attrs``), when they
    entered the stage it follows (``anchor_at``), ``late`` (entered after that entry's
    due time, for stages with ``due``), ``stage_index`` and ``left_at`` (when they entered
    their next stage; NULL while still there)."""
    ev = events.filter(events.ts <= as_of)
    done: dict[str, ir.Table] = {}
    parts = []
    for i, stage in enumerate(journey.stages):
        anchor = done[stage.after] if stage.after is not None else None
        e = _stage_entries(_matches(ev, stage), stage, anchor)
        done[stage.name] = e
        parts.append(e.mutate(stage_index=ibis.literal(i, "int64")))
    u = ibis.union(*parts)
    w = ibis.window(group_by=u.customer_id, order_by=[u.entered_at, u.stage_index])
    return u.mutate(left_at=u.entered_at.lead().over(w))


def hours(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    seconds = later.epoch_seconds().cast("float64") - earlier.epoch_seconds().cast("float64")
    result: ir.FloatingValue = seconds / 3600.0
    return result


def _at_stage(rows: ir.Table, ent: ir.Table, keep: list[str]) -> ir.Table:
    """``rows`` (customer_id, ts, ``keep``) with the stage each customer was at then."""
    s = ent.select(
        s_customer=ent.customer_id,
        s_stage=ent.stage,
        s_index=ent.stage_index,
        s_at=ent.entered_at,
        s_left=ent.left_at,
        s_event=ent.event_id,
    )
    j = rows.join(
        s,
        (rows.customer_id == s.s_customer)
        & (rows.ts >= s.s_at)
        & (s.s_left.isnull() | (rows.ts < s.s_left)),
    )
    return j.select(
        "customer_id",
        *keep,
        stage=j.s_stage,
        stage_index=j.s_index,
        entered_at=j.s_at,
        entry_event=j.s_event,
    )


def stage_scores(
    events: ir.Table, ent: ir.Table, scales: dict[str, Scale], as_of: datetime
) -> ir.Table:
    """Every score (survey answer, review) with the stage its customer was at, its value
    on 0-100 (``norm``) and ``low`` (at or below its scale's bottom)."""
    v = voice_expr(events)
    v = v.filter(v.score.notnull() & v.metric.isin(list(scales)) & (v.ts <= as_of))
    norm = ibis.cases(
        *[(v.metric == m, 100.0 * (v.score - s.low) / (s.high - s.low)) for m, s in scales.items()],
        else_=ibis.null("float64"),
    )
    low = ibis.cases(
        *[(v.metric == m, v.score <= s.bottom) for m, s in scales.items()], else_=False
    )
    v = v.select("customer_id", "event_id", "ts", "metric", "score", norm=norm, low=low)
    return _at_stage(v, ent, ["event_id", "ts", "metric", "score", "norm", "low"])


def factors(events: ir.Table, ent: ir.Table, journey: Journey, as_of: datetime) -> ir.Table:
    """Distinct (customer_id, stage_index, stage_at, factor): an attribute of a stage's
    entering event (``purchase: region=SP``), entering it late (``delivery: late``), an
    event while at it (``purchase: order_canceled``)."""
    parts = []
    for stage in journey.stages:
        s = ent.filter(ent.stage == stage.name)
        for key in stage.attributes:
            value = _value(s, key)
            a = s.filter(value.notnull() & (value != ""))
            parts.append(_factor(a, stage.name + ": " + key + "=" + _value(a, key)))
        if stage.due:
            parts.append(_factor(s.filter(s.late), ibis.literal(stage.name + ": late")))
    ev = events.filter(events.ts <= as_of).select("customer_id", "event_id", "event_type", "ts")
    during = _at_stage(ev, ent, ["event_id", "event_type"])
    during = during.filter(during.event_id != during.entry_event)
    parts.append(
        during.select(
            customer_id=during.customer_id,
            stage_index=during.stage_index,
            stage_at=during.entered_at,
            factor=during.stage + ": " + during.event_type,
        )
    )
    return ibis.union(*parts, distinct=True)


def _factor(s: ir.Table, label: ir.StringValue) -> ir.Table:
    return s.select(
        customer_id=s.customer_id, stage_index=s.stage_index, stage_at=s.entered_at, factor=label
    )


def outcomes(ent: ir.Table, scored: ir.Table, journey: Journey) -> ir.Table:
    """(customer_id, stage, stage_index, entered_at, outcome, hit): ``drop`` for every
    customer at a stage with a next one (hit: never entered it), ``low score`` for every
    customer with a score at the stage (hit: one of them low)."""
    parts = []
    for stage in journey.stages:
        nxt = journey.next_stage(stage.name)
        if nxt is None:
            continue
        s = ent.filter(ent.stage == stage.name)
        n = ent.filter(ent.stage == nxt.name).select(n_customer="customer_id")
        j = s.left_join(n, s.customer_id == n.n_customer)
        parts.append(
            j.select(
                "customer_id",
                "stage",
                "stage_index",
                "entered_at",
                outcome=ibis.literal("drop"),
                hit=j.n_customer.isnull(),
            )
        )
    low = scored.group_by(["customer_id", "stage", "stage_index", "entered_at"]).aggregate(
        hit=scored.low.any()
    )
    parts.append(low.mutate(outcome=ibis.literal("low score")).select(*OUTCOME_COLUMNS))
    return ibis.union(*parts)


def _missed(out: ir.Table, ent: ir.Table, journey: Journey) -> ir.Table:
    """(stage, outcome, factor, hit) for customers at a stage who had not entered an
    earlier, not optional stage by then: ``delivery: not reached`` for a review written
    before (or without) the parcel."""
    parts = []
    for i, earlier in enumerate(journey.stages):
        if earlier.optional:
            continue
        p = ent.filter(ent.stage == earlier.name).select(
            p_customer="customer_id", p_at="entered_at"
        )
        o = out.filter(out.stage_index > i)
        j = o.left_join(p, (o.customer_id == p.p_customer) & (p.p_at <= o.entered_at))
        j = j.filter(j.p_customer.isnull())
        parts.append(
            j.select(
                "stage", "outcome", factor=ibis.literal(earlier.name + ": not reached"), hit=j.hit
            )
        )
    return ibis.union(*parts)


def factor_counts(
    out: ir.Table, fac: ir.Table, ent: ir.Table, journey: Journey, min_count: int
) -> ir.Table:
    """Per stage, outcome and factor (held by at least ``min_count`` customers there): the
    customers with it (``with_factor``) and those of them with the outcome (``a``)."""
    f = fac.select(
        f_customer=fac.customer_id, f_index=fac.stage_index, f_at=fac.stage_at, factor=fac.factor
    )
    j = out.join(
        f,
        (out.customer_id == f.f_customer)
        & (f.f_index <= out.stage_index)
        & (f.f_at <= out.entered_at),
    )
    j = j.select("stage", "outcome", "factor", "hit").union(_missed(out, ent, journey))
    counts = j.group_by(["stage", "outcome", "factor"]).aggregate(
        with_factor=j.count(), a=ibis.ifelse(j.hit, 1, 0).sum().cast("int64")
    )
    return counts.filter(counts.with_factor >= min_count)


def outcome_totals(out: ir.Table) -> ir.Table:
    return out.group_by(["stage", "outcome"]).aggregate(
        customers=out.count(), hits=ibis.ifelse(out.hit, 1, 0).sum().cast("int64")
    )
