"""The promise ledger as one portable Ibis expression over the event log.

Every rule of the :class:`~cxloop.domain.promises.RuleSet` becomes a
sub-expression (openers, first fulfilment, first void, first milestone,
per-customer baselines, risk times, state); the union of them is the ledger.
No engine-specific SQL: the same expression runs on DuckDB here and on the
other Ibis backends. The semantics are those of
:func:`cxloop.domain.promises.classify`, which the tests hold it to.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_text
from cxloop.domain.promises import PromiseRule, RiskKind, RuleSet

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

_HOUR = 3600.0


def _secs(ts: ir.TimestampValue) -> ir.FloatingValue:
    return ts.epoch_seconds().cast("float64")


def _first_after(
    openers: ir.Table, facts: ir.Table, name: str, strictly_after_open: bool = False
) -> ir.Table:
    """For each promise, the time of the first fact with its customer and ref."""
    pred = [openers.customer_id == facts.f_customer, openers.ref == facts.f_ref]
    pred.append(
        facts.f_ts > openers.opened_at if strictly_after_open else facts.f_ts >= openers.opened_at
    )
    joined = openers.select("promise_id", "customer_id", "ref", "opened_at").join(facts, pred)
    return joined.group_by("promise_id").aggregate(**{name: joined.f_ts.min()})


def _facts(events: ir.Table, types: tuple[str, ...]) -> ir.Table:
    picked = events.filter(events.event_type.isin(list(types)))
    return picked.select(f_customer=picked.customer_id, f_ref=picked.ref, f_ts=picked.ts)


def _rule_expr(events: ir.Table, rule: PromiseRule, as_of: datetime) -> ir.Table:
    as_of_lit = ibis.literal(as_of, type="timestamp")
    opens = events.filter(events.event_type == rule.opens_on)
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
    t = openers.left_join(
        _first_after(openers, _facts(events, (rule.fulfilled_by,)), "fulfilled_at"), "promise_id"
    ).drop("promise_id_right")
    if rule.voided_by:
        t = t.left_join(
            _first_after(t, _facts(events, rule.voided_by), "voided_at"), "promise_id"
        ).drop("promise_id_right")
    else:
        t = t.mutate(voided_at=ibis.null("timestamp"))
    milestones = sorted({r.milestone for r in rule.risks if r.milestone})
    if milestones:
        t = t.left_join(
            _first_after(t, _facts(events, tuple(milestones[:1])), "milestone_at"), "promise_id"
        ).drop("promise_id_right")
    else:
        t = t.mutate(milestone_at=ibis.null("timestamp"))
    return _classified(t, rule, as_of_lit)


def _classified(t: ir.Table, rule: PromiseRule, as_of: ir.TimestampScalar) -> ir.Table:
    opened, due = _secs(t.opened_at), _secs(t.due_at)
    fulfilled = _secs(t.fulfilled_at)
    duration_h = (fulfilled - opened) / _HOUR
    milestone_h = (_secs(t.milestone_at) - opened) / _HOUR
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
    opened, fulfilled = _secs(t.opened_at), _secs(t.fulfilled_at)
    due, milestone = _secs(t.due_at), _secs(t.milestone_at)

    def slower(baseline: ir.FloatingValue) -> ir.FloatingValue:
        return opened + ibis.greatest(baseline * tol, baseline + gap_h) * _HOUR

    candidates: list[tuple[str, ir.FloatingValue]] = []
    for risk in rule.risks:
        if risk.kind is RiskKind.MILESTONE_DEADLINE:
            within = risk.within.total_seconds() if risk.within else 0.0
            at = opened + within
            if risk.deadline_attr:
                attr = attr_text(t.open_attrs, risk.deadline_attr).try_cast("timestamp")
                at = _secs(attr).fill_null(at) if risk.within else _secs(attr)
            hit = milestone.isnull() | (milestone > at)
        elif risk.kind is RiskKind.MILESTONE_SLOWER_THAN_USUAL:
            at = slower(t.milestone_baseline_h)
            hit = milestone.isnull() | (milestone > at)
        elif risk.kind is RiskKind.SLOWER_THAN_USUAL:
            at = slower(t.baseline_hours)
            hit = fulfilled.isnull() | (fulfilled > at)
        else:  # DUE_SOON
            before = risk.before_due.total_seconds() if risk.before_due else 0.0
            at = due - before
            hit = fulfilled.isnull() | (fulfilled > at)
        candidates.append((risk.reason, ibis.ifelse(hit, at, ibis.null("float64"))))

    as_of_s = _secs(as_of)
    resolved_s = ibis.least(fulfilled, due)
    if candidates:
        earliest = (
            ibis.least(*[c for _, c in candidates]) if len(candidates) > 1 else candidates[0][1]
        )
        valid = earliest.notnull() & (earliest < resolved_s) & (earliest <= as_of_s)
        risk_s = ibis.ifelse(valid, earliest, ibis.null("float64"))
        reason = ibis.cases(
            *[(c == risk_s, name) for name, c in candidates], else_=ibis.null("string")
        )
    else:
        risk_s = ibis.null("float64")
        reason = ibis.null("string")
    t = t.mutate(risk_s=risk_s, at_risk_reason=reason)
    return _with_state(t, rule, as_of, gap_h, tol)


def _with_state(
    t: ir.Table, rule: PromiseRule, as_of: ir.TimestampScalar, gap_h: float, tol: float
) -> ir.Table:
    margin = rule.exceeded_margin.total_seconds()
    due, fulfilled = _secs(t.due_at), _secs(t.fulfilled_at)
    voided = _secs(t.voided_at)
    as_of_s = _secs(as_of)
    is_void = (
        t.voided_at.notnull() & (voided <= due) & (t.fulfilled_at.isnull() | (voided < fulfilled))
    )
    state = ibis.cases(
        (is_void, "cancelled"),
        (t.fulfilled_at.notnull() & (fulfilled > due), "broken"),
        (
            t.fulfilled_at.notnull() & ibis.literal(margin > 0) & (fulfilled <= due - margin),
            "exceeded",
        ),
        (t.fulfilled_at.notnull(), "kept"),
        (as_of_s > due, "broken"),
        (t.risk_s.notnull(), "at_risk"),
        else_="open",
    )
    t = t.mutate(state=state)
    late_s = ibis.ifelse(t.fulfilled_at.notnull(), fulfilled - due, as_of_s - due)
    kept = t.state.isin(["kept", "exceeded"])
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
            (t.state != "broken", ibis.null("string")),
            (t.fulfilled_at.isnull(), "not_fulfilled"),
            else_="late",
        ),
        late_hours=ibis.ifelse(t.state == "broken", late_s / _HOUR, ibis.null("float64")),
        margin_hours=(due - fulfilled) / _HOUR,
        duration_hours=t.duration_hours,
        baseline_hours=t.baseline_hours,
        baseline_n=t.baseline_n.cast("int64"),
        below_baseline=below.fill_null(False),
        at_risk_at=ibis.ifelse(
            t.risk_s.notnull() & ~t.state.isin(["cancelled"]),
            t.opened_at + (t.risk_s - _secs(t.opened_at)).round().cast("int64").as_interval("s"),
            ibis.null("timestamp"),
        ),
        at_risk_reason=ibis.ifelse(t.state == "cancelled", ibis.null("string"), t.at_risk_reason),
        as_of=as_of,
    ).cast(LEDGER_SCHEMA)


def ledger_expr(events: ir.Table, rules: RuleSet, as_of: datetime) -> ir.Table:
    """The whole ledger as of ``as_of``: facts after it are not yet known."""
    known = events.filter(events.ts <= ibis.literal(as_of, type="timestamp"))
    parts = [_rule_expr(known, rule, as_of) for rule in rules.rules]
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out
