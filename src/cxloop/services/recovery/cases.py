"""Use cases: raise cases from signals and move them through their states.

``sync_cases`` finds the signals of the last ``open_window`` (broken and at-risk
promises, negative feedback, repeat contacts, long holds, transfers) and files
each under one case per customer problem: the customer and the *subject* (the
order, else the contact). Re-running adds nothing new. Resolving a case writes
a ``follow_up_promised`` event, so a missed follow-up is a broken promise in the
ledger; following up writes ``follow_up_made``.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from cxloop.analytics.signals import all_signals, contacts, customer_value
from cxloop.domain.cases import (
    ACTIVE_STATES,
    DEFAULT_SLA,
    CaseState,
    Signal,
    SignalFacts,
    SignalKind,
    SignalRules,
    case_severity,
    check_transition,
    signal_severity,
)
from cxloop.domain.clock import wall_now
from cxloop.domain.events import EventType
from cxloop.domain.policy import Policy
from cxloop.domain.promises import KEPT_STATES
from cxloop.domain.recovery import describe, tier_for
from cxloop.domain.remedies import CustomerTier, Severity
from cxloop.errors import NotFoundError
from cxloop.results.cases import SyncReport
from cxloop.services.log.internal import event_row, iso, record_events
from cxloop.services.promises.ledger import promises_table
from cxloop.services.recovery.limits import refuse_if_pending, refuse_taking_over
from cxloop.store.cases import CaseStore
from cxloop.store.db import Connection
from cxloop.workspace.workspace import Workspace

SYSTEM = ("cxloop", "system")  # the actor of automatic steps
FOLLOW_UP_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class Actor:
    """Who acts, in which role (the role is what the empowerment policy judges)."""

    name: str
    role: str


def now_utc(ws: Workspace) -> datetime:
    """The store's now (its clock: ``ws.clock``), naive UTC: what every case change,
    grant and approval is stamped with."""
    return ws.clock.now()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def signal_facts(row: dict[str, Any]) -> SignalFacts:
    score = row.get("score")
    return SignalFacts(
        kind=SignalKind(row["kind"]),
        promise_kind=row.get("promise_kind") or "",
        breach=row.get("breach") or "",
        late_hours=float(row.get("late_hours") or 0.0),
        score=None if score is None or score != score else float(score),
        metric=row.get("metric") or "",
        contacts=int(row.get("contacts") or 0),
        hold_seconds=float(row.get("hold_seconds") or 0.0),
        transfers=int(row.get("transfers") or 0),
    )


def _worth_keeping(name: str, value: object) -> bool:
    """Empty facts are left out of the stored signal, but a score of 0 is a score (the
    lowest NPS answer), not an empty one."""
    if name == "score":
        return value is not None
    return value not in ("", 0, 0.0, None)


def _signal(row: dict[str, Any]) -> Signal:
    facts = signal_facts(row)
    ts = pd.Timestamp(row["ts"]).to_pydatetime()
    department = row["department"] if row["department"] != "customer" else "support"
    detail = describe(facts)
    if row.get("detail_ref"):
        detail += f" ({row['detail_ref'][:80]})"
    return Signal(
        signal_id=f"{facts.kind}:{row['source_ref']}",
        kind=facts.kind,
        customer_id=row["customer_id"],
        subject=row["subject"],
        ts=ts,
        department=department,
        severity=signal_severity(facts),
        detail=detail,
        source_ref=row["source_ref"],
        facts={k: v for k, v in asdict(facts).items() if _worth_keeping(k, v)},
    )


def find_signals(
    ws: Workspace, rules: SignalRules, as_of: datetime | None = None
) -> tuple[list[Signal], datetime]:
    """The signals of the last ``rules.open_window`` before ``as_of`` (default: the
    ledger's as-of time, the store's clock; with no promises at all, the clock itself)."""
    ledger = promises_table(ws)
    built = pd.Timestamp(ledger.as_of.max().execute())
    when = as_of or (ws.clock.now() if pd.isna(built) else built.to_pydatetime())
    frame = all_signals(ws.events(), ledger, rules, when).execute()
    return [_signal(r) for r in frame.to_dict("records")], when


def _high_value(ws: Workspace, customers: set[str]) -> set[str]:
    if not customers:
        return set()
    value = customer_value(ws.events())
    line = float(value.spend.quantile(0.9).execute() or 0.0)
    mine = value.filter(value.customer_id.isin(sorted(customers))).execute()
    return {
        r.customer_id
        for r in mine.itertuples()
        if tier_for(int(r.orders), float(r.spend), line) is CustomerTier.HIGH
    }


def _department(signals: list[dict[str, Any]]) -> str:
    """The department of the worst signal that belongs to an owning department."""
    ranked = sorted(signals, key=lambda s: -Severity(s["severity"]).rank)
    return ranked[0]["department"] if ranked else "support"


def _refresh(store: CaseStore, con: Connection, case_id: str, high: bool, now: datetime) -> None:
    rows = [
        dict(r)
        for r in con.execute(
            "SELECT severity, department FROM signals WHERE case_id = ?", (case_id,)
        )
    ]
    sev = case_severity([Severity(r["severity"]) for r in rows], high)
    case = con.execute("SELECT opened_at FROM cases WHERE case_id = ?", (case_id,)).fetchone()
    assert case is not None
    due = datetime.fromisoformat(case["opened_at"]) + DEFAULT_SLA[sev]
    store.update_case(
        con,
        case_id,
        severity=sev.value,
        department=_department(rows),
        sla_due_at=due.isoformat(),
        updated_at=now.isoformat(),
    )


def _file_signal(store: CaseStore, con: Connection, s: Signal, now: datetime) -> tuple[str, str]:
    """The case a new signal belongs to, and what happened: opened / updated / reopened."""
    latest = store.latest_case(con, s.customer_id, s.subject)
    if latest is not None:
        state = CaseState(latest["state"])
        resolved = _ts(latest["resolved_at"])
        if state in ACTIVE_STATES or (resolved is not None and s.ts <= resolved):
            return latest["case_id"], "updated"
        if state is CaseState.RESOLVED:
            check_transition(latest["case_id"], state, CaseState.IN_PROGRESS)
            store.update_case(con, latest["case_id"], state=CaseState.IN_PROGRESS.value)
            store.audit(
                con,
                audit_entry(SYSTEM, "reopen", latest["case_id"], {"signal": s.signal_id}, at=now),
            )
            return latest["case_id"], "reopened"
    case_id = store.next_case_id(con)
    store.insert_case(
        con,
        {
            "case_id": case_id,
            "customer_id": s.customer_id,
            "subject": s.subject,
            "department": s.department,
            "owner": None,
            "severity": s.severity.value,
            "state": CaseState.OPEN.value,
            "opened_at": s.ts.isoformat(),
            "sla_due_at": (s.ts + DEFAULT_SLA[s.severity]).isoformat(),
            "started_at": None,
            "resolved_at": None,
            "resolution": None,
            "contacts": None,
            "follow_up_due_at": None,
            "followed_up_at": None,
            "updated_at": now.isoformat(),
        },
    )
    store.audit(con, audit_entry(SYSTEM, "open", case_id, {"signal": s.signal_id}, at=now))
    return case_id, "opened"


def audit_entry(
    actor: tuple[str, str] | Actor, action: str, case_id: str, detail: Any, *, at: datetime
) -> dict[str, Any]:
    """An audit record stamped ``at`` (the store's clock); a dict ``detail`` also keeps the
    wall-clock time it was written (``recorded_at``), which differs on a historical store."""
    name, role = (actor.name, actor.role) if isinstance(actor, Actor) else actor
    if isinstance(detail, dict):
        detail = {**detail, "recorded_at": wall_now().isoformat()}
    return {
        "at": at.isoformat(),
        "actor": name,
        "role": role,
        "action": action,
        "case_id": case_id,
        "detail": detail,
    }


def sync_cases(
    ws: Workspace, rules: SignalRules | None = None, as_of: datetime | None = None
) -> SyncReport:
    """Raise and update cases from the current signals (safe to re-run)."""
    rules = rules or SignalRules()
    store = CaseStore(ws.state)
    signals, when = find_signals(ws, rules, as_of)
    maybe_new = store.new_signals(s.signal_id for s in signals)
    high = _high_value(ws, {s.customer_id for s in signals if s.signal_id in maybe_new})
    counts = {"opened": 0, "updated": 0, "reopened": 0}
    touched: dict[str, bool] = {}
    now = now_utc(ws)
    with ws.write_lock():  # one sync at a time: what is new is decided under the lock
        new_ids = store.new_signals(s.signal_id for s in signals)
        fresh = [s for s in signals if s.signal_id in new_ids]
        with ws.state.connect() as con:
            for s in sorted(fresh, key=lambda x: (x.ts, x.signal_id)):
                case_id, what = _file_signal(store, con, s, now)
                store.add_signals(con, [_signal_row(s, case_id, now)])
                counts[what] += 1
                touched[case_id] = s.customer_id in high
            for case_id, is_high in touched.items():
                _refresh(store, con, case_id, is_high, now)
    auto = _auto_resolve(ws, store, now)
    return SyncReport(
        as_of=iso(when),
        signals_found=len(signals),
        signals_new=len(fresh),
        cases_opened=counts["opened"],
        cases_updated=len(touched) - counts["opened"],
        cases_reopened=counts["reopened"],
        cases_auto_resolved=auto,
    )


def _signal_row(s: Signal, case_id: str, now: datetime) -> dict[str, Any]:
    row = asdict(s)
    row.update(
        kind=s.kind.value,
        severity=s.severity.value,
        ts=s.ts.isoformat(),
        case_id=case_id,
        recorded_at=now.isoformat(),
    )
    return row


def _auto_resolve(ws: Workspace, store: CaseStore, when: datetime) -> int:
    """Open cases raised only by at-risk warnings whose promises were kept after all."""
    with ws.state.connect() as con:
        rows = con.execute(
            "SELECT c.case_id, s.kind, s.source_ref FROM cases c "
            "JOIN signals s ON s.case_id = c.case_id WHERE c.state = 'open' AND NOT EXISTS "
            "(SELECT 1 FROM approvals p WHERE p.case_id = c.case_id AND p.decision IS NULL)"
        ).fetchall()
    kinds: dict[str, set[str]] = {}
    refs: dict[str, list[str]] = {}
    for r in rows:
        kinds.setdefault(r["case_id"], set()).add(r["kind"])
        refs.setdefault(r["case_id"], []).append(r["source_ref"])
    candidates = {
        case_id: refs[case_id]
        for case_id, found in kinds.items()
        if found == {SignalKind.AT_RISK_PROMISE.value}
    }
    if not candidates:
        return 0
    ledger = promises_table(ws)
    ids = sorted({p for refs in candidates.values() for p in refs})
    states = dict(
        ledger.filter(ledger.promise_id.isin(ids)).select("promise_id", "state").execute().values
    )
    kept = {s.value for s in KEPT_STATES}
    done = [c for c, refs in candidates.items() if all(states.get(p) in kept for p in refs)]
    now = when.isoformat()
    with ws.state.connect() as con:
        for case_id in done:
            store.update_case(
                con,
                case_id,
                state=CaseState.RESOLVED.value,
                resolved_at=now,
                resolution="promise kept after the warning; no action needed",
                contacts=0,
                updated_at=now,
            )
            entry = audit_entry(SYSTEM, "auto_resolve", case_id, {"promises": "kept"}, at=when)
            store.audit(con, entry)
    return len(done)


# ---------------------------------------------------------------- transitions
def get_case(ws: Workspace, case_id: str) -> dict[str, Any]:
    case = CaseStore(ws.state).case(case_id)
    if case is None:
        raise NotFoundError(f"no case {case_id!r} (list them with `cxloop cases list`)")
    return case


def ws_policy(ws: Workspace) -> Policy:
    """The store's empowerment policy (its setting, in its currency)."""
    from cxloop.services.recovery.policy import load_policy

    return load_policy(ws.settings.policy, ws.settings.currency)


def start(
    ws: Workspace,
    case_id: str,
    actor: Actor,
    owner: str | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Someone takes the case: in progress, owned by ``owner`` (default: the actor). Taking
    over another person's case needs the policy's ``[cases] others`` role."""
    store = CaseStore(ws.state)
    case = get_case(ws, case_id)
    new_owner = owner or case["owner"] or actor.name
    refuse_taking_over(case, actor.name, actor.role, new_owner, policy or ws_policy(ws))
    check_transition(case_id, CaseState(case["state"]), CaseState.IN_PROGRESS)
    when = now_utc(ws)
    now = when.isoformat()
    with ws.state.connect() as con:
        store.update_case(
            con,
            case_id,
            state=CaseState.IN_PROGRESS.value,
            owner=owner or case["owner"] or actor.name,
            started_at=case["started_at"] or now,
            updated_at=now,
        )
        detail = {"owner": owner or actor.name}
        store.audit(con, audit_entry(actor, "start", case_id, detail, at=when))
    return get_case(ws, case_id)


def assign(
    ws: Workspace,
    case_id: str,
    actor: Actor,
    owner: str,
    department: str | None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Give the case to ``owner``; away from another person only with the policy's
    ``[cases] others`` role."""
    store = CaseStore(ws.state)
    case = get_case(ws, case_id)
    refuse_taking_over(case, actor.name, actor.role, owner, policy or ws_policy(ws))
    when = now_utc(ws)
    with ws.state.connect() as con:
        store.update_case(
            con,
            case_id,
            owner=owner,
            department=department or case["department"],
            updated_at=when.isoformat(),
        )
        detail = {"owner": owner, "department": department or case["department"]}
        store.audit(con, audit_entry(actor, "assign", case_id, detail, at=when))
    return get_case(ws, case_id)


def count_contacts(ws: Workspace, customer_id: str, subject: str, until: datetime) -> int:
    """Inbound contacts from the customer about the subject, up to ``until``."""
    c = contacts(ws.events())
    mine = c.filter(
        (c.customer_id == customer_id)
        & ((c.order == subject) | (c.contact_ref == subject))
        & (c.ts <= until)
    )
    return int(mine.count().execute())


def resolve(
    ws: Workspace,
    case_id: str,
    actor: Actor,
    note: str,
    follow_up_in: timedelta = FOLLOW_UP_AFTER,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The problem is fixed: record how, count the customer's contacts (first-contact
    resolution) and promise a follow-up (a ``follow_up`` promise in the ledger)."""
    store = CaseStore(ws.state)
    case = get_case(ws, case_id)
    check_transition(case_id, CaseState(case["state"]), CaseState.RESOLVED)
    refuse_if_pending(ws, case_id, "resolved")
    when = at or now_utc(ws)
    due = when + follow_up_in
    n = count_contacts(ws, case["customer_id"], case["subject"], when)
    attrs = {"case": case_id, "subject": case["subject"], "owner": case["owner"] or actor.name}
    record_events(
        ws,
        f"follow-up-{case_id}",
        [
            event_row(
                # a store's clock may stand still (data, fixed): the token tells resolutions
                # of one case at one time apart
                f"cx-follow_up_promised-{case_id}-{when:%Y%m%d%H%M%S}-{secrets.token_hex(2)}",
                case["customer_id"],
                EventType.FOLLOW_UP_PROMISED.value,
                when,
                case_id,
                channel="phone",
                due_at=due,
                attrs={**attrs, "note": note},
            )
        ],
    )
    with ws.state.connect() as con:
        store.update_case(
            con,
            case_id,
            state=CaseState.RESOLVED.value,
            resolved_at=when.isoformat(),
            resolution=note,
            contacts=n,
            follow_up_due_at=due.isoformat(),
            updated_at=now_utc(ws).isoformat(),
        )
        detail = {"note": note, "contacts": n}
        store.audit(con, audit_entry(actor, "resolve", case_id, detail, at=now_utc(ws)))
    return get_case(ws, case_id)


def follow_up(
    ws: Workspace, case_id: str, actor: Actor, note: str, at: datetime | None = None
) -> dict[str, Any]:
    """The customer was contacted after the fix: the loop is closed."""
    store = CaseStore(ws.state)
    case = get_case(ws, case_id)
    check_transition(case_id, CaseState(case["state"]), CaseState.FOLLOWED_UP)
    refuse_if_pending(ws, case_id, "closed")
    when = at or now_utc(ws)
    record_events(
        ws,
        f"follow-up-made-{case_id}",
        [
            event_row(
                f"cx-follow_up_made-{case_id}",
                case["customer_id"],
                EventType.FOLLOW_UP_MADE.value,
                when,
                case_id,
                channel="phone",
                attrs={"case": case_id, "by": actor.name, "note": note},
            )
        ],
    )
    with ws.state.connect() as con:
        store.update_case(
            con,
            case_id,
            state=CaseState.FOLLOWED_UP.value,
            followed_up_at=when.isoformat(),
            updated_at=now_utc(ws).isoformat(),
        )
        detail = {"note": note}
        store.audit(con, audit_entry(actor, "follow_up", case_id, detail, at=now_utc(ws)))
    return get_case(ws, case_id)
