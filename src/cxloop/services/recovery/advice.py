"""Use case: recommend a remedy for a case, as seen by one role.

The facts of the case (its signals, the order, the customer's value and history)
and what followed similar past broken promises go to
:func:`cxloop.domain.recovery.recommend`; each line is judged by the empowerment
policy for the acting role ("you may grant this now" / "needs approval from
lead"). Granting and approvals are in :mod:`cxloop.services.recovery.approvals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from cxloop.analytics.signals import customer_value, remedy_history
from cxloop.domain.cases import SignalFacts, SignalKind
from cxloop.domain.events import EventType
from cxloop.domain.limits import Totals
from cxloop.domain.policy import Decision, GrantRequest, Policy, decide
from cxloop.domain.promises import PromiseState
from cxloop.domain.recovery import (
    CaseFacts,
    CustomerFacts,
    History,
    Recommendation,
    RemedyLine,
    primary_signal,
    recommend,
    summarize_history,
    tier_for,
)
from cxloop.domain.remedies import MONETARY, Severity
from cxloop.errors import NotFoundError
from cxloop.services.promises.ledger import promises_table
from cxloop.services.recovery.cases import get_case, now_utc
from cxloop.services.recovery.limits import running_totals
from cxloop.store.cases import CaseStore
from cxloop.workspace.workspace import Workspace

HISTORY_HORIZON = timedelta(days=60)  # "ordered again within 60 days" = retained


@dataclass(frozen=True)
class AdvisedLine:
    line: RemedyLine
    decision: Decision


@dataclass(frozen=True)
class Advice:
    """A recommendation as seen by one role: each line with the policy's verdict."""

    case: dict[str, Any]
    recommendation: Recommendation
    facts: CaseFacts
    lines: tuple[AdvisedLine, ...]

    def as_dict(self) -> dict[str, Any]:
        rec = self.recommendation
        return {
            "case_id": rec.case_id,
            "customer_id": self.case["customer_id"],
            "subject": self.case["subject"],
            "severity": rec.severity.value,
            "customer_tier": self.facts.customer.tier.value,
            "reason": rec.reason,
            "lines": [
                {
                    "remedy": a.line.remedy.value,
                    "amount": a.line.amount,
                    "why": a.line.why,
                    "allowed": a.decision.allowed,
                    "needs_role": a.decision.needs_role,
                    "policy": a.decision.reason,
                }
                for a in self.lines
            ],
            "policy_version": self.lines[0].decision.policy_version if self.lines else "",
            "evidence": rec.evidence,
        }


def _facts_of(row: dict[str, Any]) -> SignalFacts:
    f = row["facts"]
    return SignalFacts(
        kind=SignalKind(row["kind"]),
        promise_kind=f.get("promise_kind", ""),
        breach=f.get("breach", ""),
        late_hours=float(f.get("late_hours", 0.0)),
        # signals stored before scores of 0 were kept lack it: a negative answer without a
        # score is the lowest one
        score=f.get("score", 0.0 if row["kind"] == SignalKind.NEGATIVE_FEEDBACK else None),
        metric=f.get("metric", ""),
        contacts=int(f.get("contacts", 0)),
        hold_seconds=float(f.get("hold_seconds", 0.0)),
        transfers=int(f.get("transfers", 0)),
    )


def _customer(ws: Workspace, case: dict[str, Any], own_promises: set[str]) -> CustomerFacts:
    value = customer_value(ws.events())
    line = float(value.spend.quantile(0.9).execute() or 0.0)
    mine = value.filter(value.customer_id == case["customer_id"]).execute()
    orders = int(mine.orders.iloc[0]) if len(mine) else 0
    spend = float(mine.spend.iloc[0]) if len(mine) else 0.0
    ledger = promises_table(ws)
    opened = datetime.fromisoformat(case["opened_at"])
    broken = ledger.filter(
        (ledger.customer_id == case["customer_id"])
        & (ledger.state == PromiseState.BROKEN.value)
        & (ledger.due_at >= opened - timedelta(days=180))
        & (ledger.due_at <= opened)
        & ~ledger.promise_id.isin(sorted(own_promises) or [""])
    )
    before = [
        c
        for c in CaseStore(ws.state).cases(customer_id=case["customer_id"])
        if c["opened_at"] < case["opened_at"]
    ]
    return CustomerFacts(
        orders, spend, tier_for(orders, spend, line), int(broken.count().execute()), len(before)
    )


def _amounts(
    ws: Workspace, case: dict[str, Any], signals: list[dict[str, Any]]
) -> tuple[float | None, float | None]:
    """The order's amount (when the subject is an order) and what a broken refund owes."""
    ev = ws.events()
    order = ev.filter(
        (ev.event_type == EventType.ORDER_PLACED.value) & (ev.ref == case["subject"])
    ).amount.max()
    order_amount = order.execute()
    refunds = [s["source_ref"] for s in signals if s["facts"].get("promise_kind") == "refund"]
    owed = None
    if refunds:
        ledger = promises_table(ws)
        owed = ledger.filter(ledger.promise_id.isin(refunds)).amount.sum().execute()
    clean = [None if v is None or pd.isna(v) else float(v) for v in (order_amount, owed)]
    return clean[0], clean[1]


def history_for(ws: Workspace, promise_kind: str, as_of: datetime) -> History:
    """What happened after past broken promises of this kind, by money given back."""
    rows = remedy_history(ws.events(), promises_table(ws), promise_kind, as_of, HISTORY_HORIZON)
    frame = rows.execute()
    return summarize_history(
        promise_kind,
        HISTORY_HORIZON.days,
        (
            (
                float(r.given),
                None if pd.isna(r.order_amount) else float(r.order_amount),
                bool(r.retained),
            )
            for r in frame.itertuples()
        ),
    )


def case_facts(ws: Workspace, case_id: str) -> tuple[dict[str, Any], CaseFacts]:
    case = get_case(ws, case_id)
    signals = CaseStore(ws.state).signals(case_id)
    if not signals:
        raise NotFoundError(f"case {case_id} has no signals")
    own = {s["source_ref"] for s in signals}
    order_amount, owed = _amounts(ws, case, signals)
    facts = CaseFacts(
        case_id,
        Severity(case["severity"]),
        tuple(_facts_of(s) for s in signals),
        _customer(ws, case, own),
        order_amount,
        owed,
    )
    return case, facts


def judge(
    policy: Policy, role: str, line: RemedyLine, facts: CaseFacts, totals: Totals | None = None
) -> Decision:
    return decide(
        policy,
        GrantRequest(
            remedy=line.remedy,
            role=role,
            amount=line.amount if line.remedy in MONETARY else 0.0,
            order_amount=facts.order_amount,
            severity=facts.severity,
            customer_tier=facts.customer.tier,
            totals=totals or Totals(),
        ),
    )


def advise(ws: Workspace, case_id: str, role: str, policy: Policy) -> Advice:
    """The recommended remedy for a case, each line judged for ``role``."""
    case, facts = case_facts(ws, case_id)
    primary = primary_signal(facts.signals)
    history = None
    if primary.kind is SignalKind.BROKEN_PROMISE and primary.promise_kind:
        history = history_for(ws, primary.promise_kind, datetime.fromisoformat(case["opened_at"]))
    rec = recommend(facts, history)
    if primary.kind is SignalKind.BROKEN_PROMISE and primary.promise_kind:
        rec = _what_worked(ws, policy, primary.promise_kind, rec)
    now = now_utc(ws)
    totals = {r: running_totals(ws, case, r, policy, now) for r in {ln.remedy for ln in rec.lines}}
    lines = tuple(
        AdvisedLine(line, judge(policy, role, line, facts, totals[line.remedy]))
        for line in rec.lines
    )
    return Advice(case, rec, facts, lines)


def judged_role(grant_as: str | None, policy: Policy) -> str:
    """The role a caller's advice is judged for: the one it grants as, else the lowest."""
    return grant_as or policy.roles[0]


# --- what worked before (issue 19: which remedies won customers back) ----------------------
def _what_worked(ws: Workspace, policy: Policy, kind: str, rec: Recommendation) -> Recommendation:
    """``rec`` with the estimated uplift of the remedies past ``kind`` failures got; the
    credit capped at the cheapest band that did not retain worse (docs/outcomes-remedies.md)."""
    from cxloop.domain.recovery import with_what_worked
    from cxloop.services.outcomes.remedies import rules_of
    from cxloop.services.outcomes.remedies_report import frame_of, what_worked

    rules = rules_of(ws)
    worked, why_not = what_worked(frame_of(ws, policy, rules), policy, rules, kind)
    return with_what_worked(rec, worked, rules.not_worse, why_not)
