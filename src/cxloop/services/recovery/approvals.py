"""Use cases: grant a remedy, ask for approval, decide an approval.

Each is judged by the empowerment policy for the actor's role and recorded in the
append-only audit log with actor, role, time, amount and the policy version and
digest. A granted remedy also becomes events (a credit is ``credit_issued``, a
refund opens a refund promise, a callback a callback promise …), so the ledger
tracks that the remedy itself is delivered.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from cxloop.domain.events import EventType
from cxloop.domain.money import check_amount
from cxloop.domain.policy import Decision, GrantRequest, Policy, decide
from cxloop.domain.recovery import CaseFacts
from cxloop.domain.remedies import MONETARY, Remedy
from cxloop.errors import ConflictError, NotFoundError, PolicyError
from cxloop.services.log.internal import event_row, record_events
from cxloop.services.recovery.advice import case_facts
from cxloop.services.recovery.cases import Actor, audit_entry, now_utc
from cxloop.services.recovery.limits import (
    grant_lock,
    may_be_same_person,
    running_totals,
    standing,
)
from cxloop.store.cases import CaseStore
from cxloop.store.db import Connection
from cxloop.workspace.workspace import Workspace

CALLBACK_WITHIN = timedelta(hours=4)
REPLACEMENT_WITHIN = timedelta(days=7)


def _remedy_events(
    case: dict[str, Any],
    remedy: Remedy,
    amount: float,
    by: Actor,
    approval: int | None,
    when: datetime,
) -> list[dict[str, Any]]:
    """The events a granted remedy writes (at ``when``, the store's clock): the grant
    itself, and what it promises."""
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
    ws: Workspace,
    case_id: str,
    remedy: Remedy,
    amount: float,
    actor: Actor,
    policy: Policy,
    before_approval: int | None = None,
) -> tuple[dict[str, Any], CaseFacts, GrantRequest]:
    """The request as the policy judges it: the case's facts, the running totals it adds
    to and the case's standing for this actor. Call under :func:`grant_lock`."""
    if amount < 0 or amount != amount:
        raise PolicyError(f"amount must be a number >= 0, got {amount}")
    if remedy in MONETARY:
        check_amount(amount, policy.currency)  # never record 0.001 or -0
    case, facts = case_facts(ws, case_id)
    totals = running_totals(ws, case, remedy, policy, now_utc(ws), before_approval)
    closed, others = standing(case, actor.name)
    req = GrantRequest(
        remedy,
        actor.role,
        amount if remedy in MONETARY else 0.0,
        facts.order_amount,
        facts.severity,
        facts.customer.tier,
        totals,
        closed,
        others,
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
    rows = _remedy_events(case, remedy, amount, by, approval, now_utc(ws))
    record_events(ws, f"remedy-{case['case_id']}", rows)


def _version(decision: Decision) -> str:
    return f"{decision.policy_version} ({decision.policy_digest})"


def _audit_remedy(
    store: CaseStore,
    con: Connection,
    entry: dict[str, Any],
    remedy: Remedy,
    amount: float,
    decision: Decision,
) -> None:
    """An audit entry about a remedy: what, how much (monetary only), under which policy."""
    money = amount if remedy in MONETARY else None
    detail = {**entry["detail"], "totals": decision.totals, "remaining": decision.remaining}
    store.audit(
        con,
        {
            **entry,
            "detail": detail,
            "remedy": remedy.value,
            "amount": money,
            "policy_version": _version(decision),
        },
    )


def _record_grant(
    store: CaseStore,
    con: Connection,
    case: dict[str, Any],
    remedy: Remedy,
    amount: float,
    by: Actor,
    decision: Decision,
    approval: int | None,
    note: str,
    when: datetime,
) -> None:
    """The grant in the audit log (at ``when``); an open case is now in progress."""
    now = when.isoformat()
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
    entry = audit_entry(by, "grant", case["case_id"], detail, at=when)
    _audit_remedy(store, con, entry, remedy, amount, decision)


def grant(
    ws: Workspace,
    case_id: str,
    remedy: Remedy,
    amount: float,
    actor: Actor,
    policy: Policy,
    note: str = "",
) -> Decision:
    """Grant a remedy the actor's role may give without approval (after what was already
    granted or asked for: the running totals)."""
    with grant_lock(ws):
        return _grant(ws, case_id, remedy, amount, actor, policy, note)


def _grant(
    ws: Workspace,
    case_id: str,
    remedy: Remedy,
    amount: float,
    actor: Actor,
    policy: Policy,
    note: str,
) -> Decision:
    case, _facts, req = _request_of(ws, case_id, remedy, amount, actor, policy)
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
        _record_grant(store, con, case, remedy, amount, actor, decision, None, note, now_utc(ws))
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
    """Ask for a remedy beyond the actor's authority; returns the approval id. The request
    counts in the running totals while it waits, so requests cannot split a limit either."""
    with grant_lock(ws):
        return _request(ws, case_id, remedy, amount, actor, policy, note)


def _request(
    ws: Workspace,
    case_id: str,
    remedy: Remedy,
    amount: float,
    actor: Actor,
    policy: Policy,
    note: str,
) -> int:
    _case, _facts, req = _request_of(ws, case_id, remedy, amount, actor, policy)
    decision = decide(policy, req)
    if decision.allowed:
        raise PolicyError(
            f"{decision.reason}: no approval needed, grant it with `cxloop cases grant`"
        )
    if decision.needs_role is None:
        raise PolicyError(decision.reason)
    store = CaseStore(ws.state)
    when = now_utc(ws)
    now = when.isoformat()
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
                "policy_version": _version(decision),
                "note": note,
            },
        )
        entry = audit_entry(
            actor,
            "request",
            case_id,
            {"approval": approval_id, "needs_role": decision.needs_role, "note": note},
            at=when,
        )
        _audit_remedy(store, con, entry, remedy, amount, decision)
    return approval_id


def decide_approval(
    ws: Workspace, approval_id: int, actor: Actor, policy: Policy, approve: bool, note: str = ""
) -> dict[str, Any]:
    """Approve (and so grant) or deny a pending request. The approver's role must be one
    the policy lets grant it, after the running totals; nobody approves their own request
    (four eyes: the same person under any key). Of concurrent decisions one wins; the
    others get :class:`ConflictError`."""
    with grant_lock(ws):
        row = _pending(CaseStore(ws.state), approval_id)
        if approve and may_be_same_person(row["requested_by"], actor.name):
            raise PolicyError(
                f"four eyes: {row['requested_by']} asked for approval {approval_id} and may not "
                f"approve it, under any key; another {row['needs_role']} or above must decide (the "
                "requester may deny it to withdraw it)"
            )
        _decide(ws, row, actor, policy, approve, note)
    result = CaseStore(ws.state).approval(approval_id)
    assert result is not None
    return result


def _pending(store: CaseStore, approval_id: int) -> dict[str, Any]:
    row = store.approval(approval_id)
    if row is None:
        raise NotFoundError(f"no approval {approval_id} (list them with `cxloop cases approvals`)")
    if row["decision"] is not None:
        raise ConflictError(
            f"approval {approval_id} was already {row['decision']} by {row['decided_by']}"
        )
    return row


def _decide(
    ws: Workspace,
    row: dict[str, Any],
    actor: Actor,
    policy: Policy,
    approve: bool,
    note: str,
) -> None:
    store, approval_id = CaseStore(ws.state), int(row["approval_id"])
    remedy = Remedy(row["remedy"])
    case, _facts, req = _request_of(
        ws, row["case_id"], remedy, row["amount"], actor, policy, approval_id
    )
    decision = decide(policy, req)
    if approve and not decision.allowed:
        raise PolicyError(f"{actor.name} ({actor.role}) cannot approve this: {decision.reason}")
    if approve:  # events first (their ids come from the approval: a retry adds nothing)
        _write_grant(ws, case, remedy, row["amount"], actor, approval_id)
    now = now_utc(ws)
    wait = (now - datetime.fromisoformat(row["requested_at"])).total_seconds()
    verdict = "approved" if approve else "denied"
    with ws.state.connect() as con:
        won = store.decide_approval(
            con,
            approval_id,
            decision=verdict,
            decided_by=actor.name,
            decided_role=actor.role,
            decided_at=now.isoformat(),
        )
        if not won:  # only without the lock (another host on a shared database)
            raise ConflictError(f"approval {approval_id} was decided by someone else just now")
        detail = {"approval": approval_id, "wait_seconds": wait, "note": note}
        verb = "approve" if approve else "deny"
        entry = audit_entry(actor, verb, row["case_id"], detail, at=now)
        _audit_remedy(store, con, entry, remedy, row["amount"], decision)
        if approve:
            _record_grant(
                store, con, case, remedy, row["amount"], actor, decision, approval_id, note, now
            )
