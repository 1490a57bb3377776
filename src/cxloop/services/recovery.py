"""Use cases: recommend a remedy for a case, grant it, or ask for approval.

The recommendation comes from :func:`cxloop.domain.recovery.recommend`; each
line is judged by the empowerment policy for the acting role ("you may grant
this now" / "needs approval from lead"). Grants, requests and decisions are
written to the append-only audit log with actor, role, time, policy version and
amount; granted remedies also become events (a credit is ``credit_issued``, a
refund opens a refund promise, a callback opens a callback promise …), so the
ledger tracks that the remedy itself is delivered.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from cxloop.analytics.signals import customer_value, remedy_history
from cxloop.domain.cases import SignalFacts, SignalKind
from cxloop.domain.events import EventType
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
from cxloop.domain.remedies import MONETARY, Remedy, Severity
from cxloop.errors import NotFoundError, PolicyError
from cxloop.services.cases import Actor, _entry, get_case, now_utc
from cxloop.services.internal import event_row, record_events
from cxloop.services.ledger import promises_table
from cxloop.services.workspace import Workspace
from cxloop.store.cases import CaseStore

HISTORY_HORIZON = timedelta(days=60)  # "ordered again within 60 days" = retained
CALLBACK_WITHIN = timedelta(hours=4)
REPLACEMENT_WITHIN = timedelta(days=7)


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
        score=f.get("score"),
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


def judge(policy: Policy, role: str, line: RemedyLine, facts: CaseFacts) -> Decision:
    return decide(
        policy,
        GrantRequest(
            remedy=line.remedy,
            role=role,
            amount=line.amount if line.remedy in MONETARY else 0.0,
            order_amount=facts.order_amount,
            severity=facts.severity,
            customer_tier=facts.customer.tier,
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
    lines = tuple(AdvisedLine(line, judge(policy, role, line, facts)) for line in rec.lines)
    return Advice(case, rec, facts, lines)


# ---------------------------------------------------------------- grants and approvals
def _remedy_events(
    case: dict[str, Any], remedy: Remedy, amount: float, by: Actor, approval: int | None
) -> list[dict[str, Any]]:
    """The events a granted remedy writes: the grant itself, and what it promises."""
    when = now_utc()
    tag = f"{case['case_id']}-{remedy.value}-{when:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    if approval is not None:  # the same approval always writes the same events
        tag = f"{case['case_id']}-approval-{approval}"
    attrs = {"case": case["case_id"], "remedy": remedy.value, "by": by.name, "role": by.role}
    if approval is not None:
        attrs["approval"] = approval
    cust, subject = case["customer_id"], case["subject"]
    money = amount if remedy in MONETARY else None
    rows = [
        event_row(
            f"cx-remedy-{tag}",
            cust,
            EventType.REMEDY_GRANTED.value,
            when,
            case["case_id"],
            amount=money,
            attrs=attrs,
        )
    ]
    if remedy is Remedy.CREDIT:
        rows.append(
            event_row(
                f"cx-credit-{tag}",
                cust,
                EventType.CREDIT_ISSUED.value,
                when,
                subject,
                amount=amount,
                attrs={"reason": "recovery", "case": case["case_id"]},
            )
        )
    elif remedy in (Remedy.REFUND, Remedy.KEEP_ITEM):
        rows.append(
            event_row(
                f"cx-refund-{tag}",
                cust,
                EventType.REFUND_REQUESTED.value,
                when,
                subject,
                amount=amount,
                attrs={"case": case["case_id"], "keep_item": remedy is Remedy.KEEP_ITEM},
            )
        )
    elif remedy is Remedy.CALLBACK:
        rows.append(
            event_row(
                f"cx-callback-{tag}",
                cust,
                EventType.CALLBACK_PROMISED.value,
                when,
                case["case_id"],
                channel="phone",
                due_at=when + CALLBACK_WITHIN,
                attrs={"case": case["case_id"]},
            )
        )
    elif remedy is Remedy.REPLACEMENT:
        rows.append(
            event_row(
                f"cx-replacement-{tag}",
                cust,
                EventType.REPLACEMENT_PROMISED.value,
                when,
                case["case_id"],
                due_at=when + REPLACEMENT_WITHIN,
                attrs={"case": case["case_id"]},
            )
        )
    return rows


def _request_of(
    ws: Workspace, case_id: str, remedy: Remedy, amount: float, role: str
) -> tuple[dict[str, Any], CaseFacts, GrantRequest]:
    if amount < 0 or amount != amount:
        raise PolicyError(f"amount must be a number >= 0, got {amount}")
    case, facts = case_facts(ws, case_id)
    req = GrantRequest(
        remedy,
        role,
        amount if remedy in MONETARY else 0.0,
        facts.order_amount,
        facts.severity,
        facts.customer.tier,
    )
    return case, facts, req


def _write_grant(
    ws: Workspace,
    case: dict[str, Any],
    remedy: Remedy,
    amount: float,
    by: Actor,
    approval: int | None,
) -> None:
    rows = _remedy_events(case, remedy, amount, by, approval)
    record_events(ws, f"remedy-{case['case_id']}", rows)


def _record_grant(
    store: CaseStore,
    con: sqlite3.Connection,
    case: dict[str, Any],
    remedy: Remedy,
    amount: float,
    by: Actor,
    decision: Decision,
    approval: int | None,
    note: str,
) -> None:
    """The grant in the audit log; an open case is now in progress."""
    now = now_utc().isoformat()
    if case["state"] == "open":
        store.update_case(
            con,
            case["case_id"],
            state="in_progress",
            started_at=now,
            owner=case["owner"] or by.name,
            updated_at=now,
        )
    detail = {"note": note, "approval": approval, "policy_line": decision.grant_index}
    entry = _entry(by, "grant", case["case_id"], detail)
    version = f"{decision.policy_version} ({decision.policy_digest})"
    store.audit(con, {**entry, "remedy": remedy.value, "amount": amount, "policy_version": version})


def grant(
    ws: Workspace,
    case_id: str,
    remedy: Remedy,
    amount: float,
    actor: Actor,
    policy: Policy,
    note: str = "",
) -> Decision:
    """Grant a remedy the actor's role may give without approval."""
    case, _facts, req = _request_of(ws, case_id, remedy, amount, actor.role)
    decision = decide(policy, req)
    if not decision.allowed:
        hint = (
            (
                f"; ask for approval: cxloop cases request {case_id} --remedy {remedy.value} "
                f"--amount {amount:g}"
            )
            if decision.needs_role
            else ""
        )
        raise PolicyError(decision.reason + hint)
    _write_grant(ws, case, remedy, amount, actor, None)
    store = CaseStore(ws.state)
    with ws.state.connect() as con:
        _record_grant(store, con, case, remedy, amount, actor, decision, None, note)
    return decision


def request_approval(
    ws: Workspace,
    case_id: str,
    remedy: Remedy,
    amount: float,
    actor: Actor,
    policy: Policy,
    note: str = "",
) -> int:
    """Ask for a remedy beyond the actor's authority; returns the approval id."""
    _case, _facts, req = _request_of(ws, case_id, remedy, amount, actor.role)
    decision = decide(policy, req)
    if decision.allowed:
        raise PolicyError(
            f"{decision.reason}: no approval needed, grant it with `cxloop cases grant`"
        )
    if decision.needs_role is None:
        raise PolicyError(decision.reason)
    store = CaseStore(ws.state)
    now = now_utc().isoformat()
    with ws.state.connect() as con:
        approval_id = store.add_approval(
            con,
            {
                "case_id": case_id,
                "remedy": remedy.value,
                "amount": amount,
                "requested_by": actor.name,
                "requested_role": actor.role,
                "needs_role": decision.needs_role,
                "requested_at": now,
                "policy_version": f"{decision.policy_version} ({decision.policy_digest})",
                "note": note,
            },
        )
        entry = _entry(
            actor,
            "request",
            case_id,
            {"approval": approval_id, "needs_role": decision.needs_role, "note": note},
        )
        store.audit(
            con,
            {
                **entry,
                "remedy": remedy.value,
                "amount": amount,
                "policy_version": f"{decision.policy_version} ({decision.policy_digest})",
            },
        )
    return approval_id


def decide_approval(
    ws: Workspace, approval_id: int, actor: Actor, policy: Policy, approve: bool, note: str = ""
) -> dict[str, Any]:
    """Approve (and so grant) or deny a pending request. The approver's role must be one
    the policy lets grant it."""
    store = CaseStore(ws.state)
    row = store.approval(approval_id)
    if row is None:
        raise NotFoundError(f"no approval {approval_id} (list them with `cxloop cases approvals`)")
    if row["decision"] is not None:
        raise PolicyError(
            f"approval {approval_id} was already {row['decision']} by {row['decided_by']}"
        )
    remedy = Remedy(row["remedy"])
    case, _facts, req = _request_of(ws, row["case_id"], remedy, row["amount"], actor.role)
    decision = decide(policy, req)
    if approve and not decision.allowed:
        raise PolicyError(f"{actor.name} ({actor.role}) cannot approve this: {decision.reason}")
    if approve:  # events first (their ids come from the approval: a retry adds nothing)
        _write_grant(ws, case, remedy, row["amount"], actor, approval_id)
    now = now_utc()
    wait = (now - datetime.fromisoformat(row["requested_at"])).total_seconds()
    verdict = "approved" if approve else "denied"
    version = f"{decision.policy_version} ({decision.policy_digest})"
    with ws.state.connect() as con:
        won = store.decide_approval(
            con,
            approval_id,
            decision=verdict,
            decided_by=actor.name,
            decided_role=actor.role,
            decided_at=now.isoformat(),
        )
        if not won:
            raise PolicyError(f"approval {approval_id} was decided by someone else just now")
        detail = {"approval": approval_id, "wait_seconds": wait, "note": note}
        entry = _entry(actor, "approve" if approve else "deny", row["case_id"], detail)
        store.audit(
            con,
            {**entry, "remedy": remedy.value, "amount": row["amount"], "policy_version": version},
        )
        if approve:
            _record_grant(
                store, con, case, remedy, row["amount"], actor, decision, approval_id, note
            )
    result = store.approval(approval_id)
    assert result is not None
    return result
