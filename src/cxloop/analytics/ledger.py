"""The promise ledger as one portable Ibis expression over the event log.

Every rule of the :class:`~cxloop.domain.promises.RuleSet` becomes a
sub-expression (openers, first fulfilment, first void, first milestone,
per-customer baselines, risk times, state); the union of them is the ledger.
No engine-specific SQL: the same expression runs on DuckDB here and on the
other Ibis backends. The semantics are those of
:func:`cxloop.domain.promises.classify`, which the tests hold it to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_time
from cxloop.domain.promises import (
    KEPT_STATES,
    Breach,
    BrokenReason,
    PromiseRule,
    PromiseState,
    RiskKind,
    RuleSet,
)

#: The ledger's columns and types, in order (docs/promises.md documents each).
LEDGER_SCHEMA = ibis.schema(
    {
        "promise_id": "string",
        "rule": "string",
        "kind": "string",
        "department": "string",
        "customer_id": "string",
        "ref": "string",
        "source_event_id": "string",
        "amount": "float64",
        "opened_at": "timestamp",
        "due_at": "timestamp",
        "fulfilled_at": "timestamp",
        "voided_at": "timestamp",
        "milestone_at": "timestamp",
        "state": "string",
        "breach": "string",
        "broken_reason": "string",
        "late_hours": "float64",
        "margin_hours": "float64",
        "duration_hours": "float64",
        "baseline_hours": "float64",
        "baseline_n": "int64",
        "below_baseline": "boolean",
        "at_risk_at": "timestamp",
        "at_risk_reason": "string",
        "as_of": "timestamp",
    }
)
LEDGER_COLUMNS = tuple(LEDGER_SCHEMA.names)
#: Changes with the columns (and the semantics tag): a ledger built with other columns, or
#: before milestone risks needed their milestone in the log, is rebuilt before it is read.
LEDGER_LAYOUT = hashlib.sha256(
    (",".join(LEDGER_COLUMNS) + ";milestone-risks-need-the-milestone").encode()
).hexdigest()[:12]

_HOUR = 3600.0
BROKEN = PromiseState.BROKEN.value
CANCELLED = PromiseState.CANCELLED.value


def _secs(ts: ir.TimestampValue) -> ir.FloatingValue:
    return ts.epoch_seconds().cast("float64")


def _firsts(openers: ir.Table, events: ir.Table, wanted: dict[str, tuple[str, ...]]) -> ir.Table:
    """Per promise, the first time of each wanted kind of fact (same customer and ref, at or
    after opening): one join for all of them, ``{name: event types}``."""
    types = sorted({t for group in wanted.values() for t in group})
    facts = events.filter(events.event_type.isin(types))
    facts = facts.select(
        f_customer=facts.customer_id, f_ref=facts.ref, f_ts=facts.ts, f_type=facts.event_type
    )
    keys = openers.select("promise_id", "customer_id", "ref", "opened_at")
    joined = keys.join(
        facts,
        [
            keys.customer_id == facts.f_customer,
            keys.ref == facts.f_ref,
            facts.f_ts >= keys.opened_at,
        ],
    )
    return joined.group_by("promise_id").aggregate(
        **{
            name: joined.f_ts.min(where=joined.f_type.isin(list(group)))
            for name, group in wanted.items()
        }
    )


def _rule_expr(sources: LedgerSources, rule: PromiseRule, as_of: datetime) -> ir.Table:
    as_of_lit = ibis.literal(as_of, type="timestamp")
    events = sources.facts
    opens = sources.openers.filter(sources.openers.event_type == rule.opens_on)
    if rule.channels:
        opens = opens.filter(opens.channel.isin(list(rule.channels)))
    fallback_due = opens.ts + ibis.interval(seconds=int(rule.due_after.total_seconds()))
    due = opens.due_at.fill_null(fallback_due) if rule.use_event_due else fallback_due
    openers = opens.select(
        promise_id=ibis.literal(rule.name + ":") + opens.event_id,
        rule=ibis.literal(rule.name),
        kind=ibis.literal(rule.kind),
        department=ibis.literal(rule.department),
        customer_id=opens.customer_id,
        ref=opens.ref.fill_null(opens.event_id),
        source_event_id=opens.event_id,
        amount=opens.amount,
        opened_at=opens.ts,
        due_at=due,
        open_attrs=opens.attrs,
    )
    wanted: dict[str, tuple[str, ...]] = {"fulfilled_at": (rule.fulfilled_by,)}
    if rule.voided_by:
        wanted["voided_at"] = rule.voided_by
    milestones = sorted({r.milestone for r in rule.risks if r.milestone})
    if milestones:
        wanted["milestone_at"] = tuple(milestones)
    t = openers.left_join(_firsts(openers, events, wanted), "promise_id").drop("promise_id_right")
    for name in ("voided_at", "milestone_at"):
        if name not in wanted:
            t = t.mutate(**{name: ibis.null("timestamp")})
    return _classified(_with_milestone_seen(t, events, milestones), rule, as_of_lit)


def _with_milestone_seen(t: ir.Table, events: ir.Table, milestones: list[str]) -> ir.Table:
    """Whether the log (as of the as-of time) holds the milestone's event type at all: a log
    that never records it (no hand-off to the carrier in the export) cannot show one missed,
    so the milestone risks stay silent there (docs/promises.md)."""
    if not milestones:
        return t.mutate(milestone_seen=ibis.literal(False))
    marks = events.filter(events.event_type.isin(milestones))
    seen = marks.aggregate(milestone_seen=marks.count() > 0)
    return t.cross_join(seen)


def _classified(t: ir.Table, rule: PromiseRule, as_of: ir.TimestampScalar) -> ir.Table:
    # epoch seconds once, as columns: later steps refer to them instead of repeating them
    t = t.mutate(
        o_s=_secs(t.opened_at),
        d_s=_secs(t.due_at),
        f_s=_secs(t.fulfilled_at),
        m_s=_secs(t.milestone_at),
        v_s=_secs(t.voided_at),
    )
    duration_h = (t.f_s - t.o_s) / _HOUR
    milestone_h = (t.m_s - t.o_s) / _HOUR
    prior = ibis.window(
        group_by=[t.customer_id], order_by=[t.opened_at, t.promise_id], rows=(None, -1)
    )
    t = t.mutate(
        duration_hours=duration_h,
        baseline_hours=duration_h.mean().over(prior),
        baseline_n=duration_h.count().over(prior),
        milestone_baseline_h=milestone_h.mean().over(prior),
    )
    tol = 1.0 + rule.baseline_tolerance
    gap_h = rule.baseline_min_gap.total_seconds() / _HOUR

    def slower(baseline: ir.FloatingValue) -> ir.FloatingValue:
        return t.o_s + ibis.greatest(baseline * tol, baseline + gap_h) * _HOUR

    candidates: dict[str, ir.FloatingValue] = {}
    reasons: dict[str, str] = {}
    for i, risk in enumerate(rule.risks):
        if risk.kind is RiskKind.MILESTONE_DEADLINE:
            within = risk.within.total_seconds() if risk.within else 0.0
            at = t.o_s + within
            if risk.deadline_attr:
                attr = attr_time(t.open_attrs, risk.deadline_attr)
                at = _secs(attr).fill_null(at) if risk.within else _secs(attr)
            hit = t.milestone_seen & (t.m_s.isnull() | (t.m_s > at))
        elif risk.kind is RiskKind.MILESTONE_SLOWER_THAN_USUAL:
            at = slower(t.milestone_baseline_h)
            hit = t.milestone_seen & (t.m_s.isnull() | (t.m_s > at))
        elif risk.kind is RiskKind.SLOWER_THAN_USUAL:
            at = slower(t.baseline_hours)
            hit = t.f_s.isnull() | (t.f_s > at)
        else:  # DUE_SOON
            before = risk.before_due.total_seconds() if risk.before_due else 0.0
            at = t.d_s - before
            hit = t.f_s.isnull() | (t.f_s > at)
        candidates[f"c{i}"] = ibis.ifelse(hit, at, ibis.null("float64"))
        reasons[f"c{i}"] = risk.reason

    if not candidates:
        t = t.mutate(risk_s=ibis.null("float64"), at_risk_reason=ibis.null("string"))
        return _with_state(t, rule, as_of, gap_h, tol)
    t = t.mutate(**candidates)
    cols = [t[c] for c in candidates]
    earliest = ibis.least(*cols) if len(cols) > 1 else cols[0]
    t = t.mutate(earliest=earliest)
    valid = (
        t.earliest.notnull()
        & (t.earliest < ibis.least(t.f_s, t.d_s))
        & (t.earliest <= _secs(as_of))
    )
    t = t.mutate(risk_s=ibis.ifelse(valid, t.earliest, ibis.null("float64")))
    t = t.mutate(
        at_risk_reason=ibis.cases(
            *[(t[c] == t.risk_s, reason) for c, reason in reasons.items()],
            else_=ibis.null("string"),
        )
    )
    return _with_state(t, rule, as_of, gap_h, tol)


def _with_state(
    t: ir.Table, rule: PromiseRule, as_of: ir.TimestampScalar, gap_h: float, tol: float
) -> ir.Table:
    margin = rule.exceeded_margin.total_seconds()
    due, fulfilled, voided = t.d_s, t.f_s, t.v_s
    as_of_s = _secs(as_of)
    is_void = (
        t.voided_at.notnull() & (voided <= due) & (t.fulfilled_at.isnull() | (voided < fulfilled))
    )
    state = ibis.cases(
        (is_void, CANCELLED),
        (t.fulfilled_at.notnull() & (fulfilled > due), BROKEN),
        (
            t.fulfilled_at.notnull() & ibis.literal(margin > 0) & (fulfilled <= due - margin),
            PromiseState.EXCEEDED.value,
        ),
        (t.fulfilled_at.notnull(), PromiseState.KEPT.value),
        (as_of_s > due, BROKEN),
        (t.risk_s.notnull(), PromiseState.AT_RISK.value),
        else_=PromiseState.OPEN.value,
    )
    t = t.mutate(state=state)
    late_s = ibis.ifelse(t.fulfilled_at.notnull(), fulfilled - due, as_of_s - due)
    kept = t.state.isin([s.value for s in KEPT_STATES])
    below = (
        kept
        & (t.baseline_n > 0)
        & (t.duration_hours > t.baseline_hours * tol)
        & (t.duration_hours - t.baseline_hours >= gap_h)
    )
    return t.select(
        "promise_id",
        "rule",
        "kind",
        "department",
        "customer_id",
        "ref",
        "source_event_id",
        "amount",
        "opened_at",
        "due_at",
        "fulfilled_at",
        "voided_at",
        "milestone_at",
        "state",
        breach=ibis.cases(
            (t.state != BROKEN, ibis.null("string")),
            (t.fulfilled_at.isnull(), Breach.NOT_FULFILLED.value),
            else_=Breach.LATE.value,
        ),
        broken_reason=ibis.cases(
            (t.state != BROKEN, ibis.null("string")),
            (t.fulfilled_at.notnull(), BrokenReason.LATE.value),
            (t.voided_at.notnull(), BrokenReason.CANCELED.value),
            else_=BrokenReason.NEVER_FULFILLED.value,
        ),
        late_hours=ibis.ifelse(t.state == BROKEN, late_s / _HOUR, ibis.null("float64")),
        margin_hours=(due - fulfilled) / _HOUR,
        duration_hours=t.duration_hours,
        baseline_hours=t.baseline_hours,
        baseline_n=t.baseline_n.cast("int64"),
        below_baseline=below.fill_null(False),
        at_risk_at=ibis.ifelse(
            t.risk_s.notnull() & (t.state != CANCELLED),
            t.opened_at + (t.risk_s - t.o_s).round().cast("int64").as_interval("s"),
            ibis.null("timestamp"),
        ),
        at_risk_reason=ibis.ifelse(t.state == CANCELLED, ibis.null("string"), t.at_risk_reason),
        as_of=as_of,
    ).cast(LEDGER_SCHEMA)


@dataclass(frozen=True)
class LedgerSources:
    """The events the rules read, known as of the as-of time: opening events (with their
    attributes) and the narrow facts that fulfil, void or mark a milestone. A runner may
    materialise them once (``.cache()``) so the rules do not each scan the whole log."""

    openers: ir.Table
    facts: ir.Table


def ledger_sources(events: ir.Table, rules: RuleSet, as_of: datetime) -> LedgerSources:
    known = events.filter(events.ts <= ibis.literal(as_of, type="timestamp"))
    opening = sorted({r.opens_on for r in rules.rules})
    fact_types = sorted(
        {t for r in rules.rules for t in (r.fulfilled_by, *r.voided_by)}
        | {k.milestone for r in rules.rules for k in r.risks if k.milestone}
    )
    openers = known.filter(known.event_type.isin(opening)).select(
        "event_id",
        "customer_id",
        "event_type",
        "ts",
        "channel",
        "ref",
        "amount",
        "due_at",
        "attrs",
    )
    facts = known.filter(known.event_type.isin(fact_types)).select(
        "customer_id", "ref", "ts", "event_type"
    )
    return LedgerSources(openers, facts)


def ledger_from_sources(sources: LedgerSources, rules: RuleSet, as_of: datetime) -> ir.Table:
    parts = [_rule_expr(sources, rule, as_of) for rule in rules.rules]
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out


def ledger_expr(events: ir.Table, rules: RuleSet, as_of: datetime) -> ir.Table:
    """The whole ledger as of ``as_of``: facts after it are not yet known."""
    return ledger_from_sources(ledger_sources(events, rules, as_of), rules, as_of)
