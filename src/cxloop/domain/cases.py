"""Cases: one customer problem, raised by signals, tracked to closure.

Pure definitions (no I/O): the case states and their one transition table, the
kinds of signal that raise cases, how a signal's severity is judged, and the
service-level target (SLA) per severity. The services layer stores cases and
signals; this module decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cxloop.domain.remedies import Severity
from cxloop.errors import PolicyError


class CaseState(StrEnum):
    OPEN = "open"  # raised, nobody working on it yet
    IN_PROGRESS = "in_progress"  # someone owns it and acts (a remedy granted, a call made)
    RESOLVED = "resolved"  # the problem is fixed; a follow-up is due
    FOLLOWED_UP = "followed_up"  # the customer was contacted after the fix: the loop is closed


#: The one transition table. A resolved case reopens (to in progress) when the
#: customer's problem comes back before the follow-up; followed-up is terminal.
CASE_TRANSITIONS: Mapping[CaseState, frozenset[CaseState]] = {
    CaseState.OPEN: frozenset({CaseState.IN_PROGRESS, CaseState.RESOLVED}),
    CaseState.IN_PROGRESS: frozenset({CaseState.RESOLVED}),
    CaseState.RESOLVED: frozenset({CaseState.FOLLOWED_UP, CaseState.IN_PROGRESS}),
    CaseState.FOLLOWED_UP: frozenset(),
}

ACTIVE_STATES = frozenset({CaseState.OPEN, CaseState.IN_PROGRESS})


def check_transition(case_id: str, src: CaseState, dst: CaseState) -> None:
    """Raise :class:`PolicyError` unless the table allows ``src`` → ``dst``."""
    if dst not in CASE_TRANSITIONS[src]:
        allowed = ", ".join(sorted(CASE_TRANSITIONS[src])) or "nothing (closed)"
        raise PolicyError(f"case {case_id} is {src}; it can move to: {allowed} (not {dst})")


class SignalKind(StrEnum):
    """What can raise a case."""

    BROKEN_PROMISE = "broken_promise"
    AT_RISK_PROMISE = "at_risk_promise"
    NEGATIVE_FEEDBACK = "negative_feedback"
    REPEAT_CONTACT = "repeat_contact"
    LONG_HOLD = "long_hold"
    TRANSFERS = "transfers"


@dataclass(frozen=True)
class SignalRules:
    """Thresholds for raising signals (``[signals]`` in the recovery settings)."""

    repeat_within: timedelta = timedelta(days=7)  # same customer, same issue, again within
    long_hold_seconds: float = 600.0  # a hold or queue wait at least this long
    transfers: int = 2  # this many transfers in one contact
    low_review: float = 2.0  # review or CSAT score at or below this (1-5)
    nps_detractor: float = 6.0  # NPS at or below this (0-10)
    ces_low: float = 3.0  # customer-effort score at or below this (1-7, 7 = very easy)
    open_window: timedelta = timedelta(days=30)  # only signals this recent open cases


@dataclass(frozen=True)
class SignalFacts:
    """The facts behind one signal, as the severity rules need them."""

    kind: SignalKind
    promise_kind: str = ""  # delivery, callback, refund, reply, replacement, follow_up …
    breach: str = ""  # late | not_fulfilled (broken promises)
    late_hours: float = 0.0
    score: float | None = None  # feedback score
    metric: str = ""  # review | nps | csat | ces
    contacts: int = 0  # repeat contacts: how many on the same issue
    hold_seconds: float = 0.0
    transfers: int = 0


#: Promise kinds whose breach hurts most (money or goods the customer is owed).
_OWED = frozenset({"refund", "replacement", "delivery"})


def _broken_severity(f: SignalFacts) -> Severity:
    if f.promise_kind in _OWED:
        if f.breach == "not_fulfilled" or f.late_hours > 72:
            return Severity.HIGH
        return Severity.MEDIUM
    if f.promise_kind in ("callback", "follow_up"):
        return Severity.MEDIUM  # a person said they would call
    return Severity.LOW  # replies and other service promises


def _feedback_severity(f: SignalFacts) -> Severity:
    score = f.score if f.score is not None else 0.0
    worst = {"nps": 3.0, "ces": 1.0}.get(f.metric, 1.0)  # review / csat: 1 star
    return Severity.HIGH if score <= worst else Severity.MEDIUM


def signal_severity(f: SignalFacts) -> Severity:
    """How bad one signal is; the rules are documented in docs/recovery.md."""
    if f.kind is SignalKind.BROKEN_PROMISE:
        return _broken_severity(f)
    if f.kind is SignalKind.NEGATIVE_FEEDBACK:
        return _feedback_severity(f)
    if f.kind is SignalKind.REPEAT_CONTACT:
        return Severity.HIGH if f.contacts >= 3 else Severity.MEDIUM
    if f.kind is SignalKind.AT_RISK_PROMISE:
        return Severity.MEDIUM if f.promise_kind in _OWED else Severity.LOW
    return Severity.LOW  # long holds, transfers: effort, not yet a failure


def case_severity(signals: list[Severity], high_value: bool = False) -> Severity:
    """A case is as severe as its worst signal, one step worse when three or more
    signals pile up or when the customer is of high value (never past critical)."""
    worst = max(signals, key=lambda s: s.rank, default=Severity.LOW)
    bump = int(len(signals) >= 3) + int(high_value)
    return list(Severity)[min(worst.rank + bump, Severity.CRITICAL.rank)]


#: Time to resolve per severity (the case's SLA).
DEFAULT_SLA: Mapping[Severity, timedelta] = {
    Severity.CRITICAL: timedelta(hours=4),
    Severity.HIGH: timedelta(hours=24),
    Severity.MEDIUM: timedelta(hours=48),
    Severity.LOW: timedelta(hours=72),
}


@dataclass(frozen=True)
class Signal:
    """One reason to act on a customer's problem, found in the log or the ledger."""

    signal_id: str  # stable: kind + the fact it comes from
    kind: SignalKind
    customer_id: str
    subject: str  # the issue: an order id, else the contact or promise ref
    ts: datetime
    department: str
    severity: Severity
    detail: str  # one readable line
    source_ref: str  # the promise id or event id it comes from
    facts: dict[str, Any] = field(default_factory=dict)


def sla_due(opened_at: datetime, severity: Severity, sla: Mapping[Severity, timedelta]) -> datetime:
    return opened_at + sla[severity]


def first_contact_resolved(contacts: int) -> bool:
    """First-contact resolution: the customer had to get in touch at most once."""
    return contacts <= 1
