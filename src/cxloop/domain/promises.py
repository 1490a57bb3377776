"""Promises: states, their transition table, and declarative promise rules.

A *promise rule* is data: "an event of type X opens a promise of kind K, due at
the event's ``due_at`` (or N after it), kept by the first event of type Y with
the same ``ref``, void if Z happens first". The ledger runner
(:mod:`cxloop.analytics.ledger`) turns rules into dataframe expressions; this
module only defines them, validates them and states the semantics in
:func:`classify`, the pure reference the runner is tested against.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cxloop.domain.events import DEPARTMENTS, EVENT_TYPES
from cxloop.errors import RuleError


class PromiseState(StrEnum):
    OPEN = "open"
    AT_RISK = "at_risk"  # open, but the facts say it will likely break
    KEPT = "kept"
    EXCEEDED = "exceeded"  # kept by a clear margin
    BROKEN = "broken"
    CANCELLED = "cancelled"  # voided before it was due (order cancelled)


#: The one transition table. Terminal states have no way out.
TRANSITIONS: Mapping[PromiseState, frozenset[PromiseState]] = {
    PromiseState.OPEN: frozenset(
        {
            PromiseState.AT_RISK,
            PromiseState.KEPT,
            PromiseState.EXCEEDED,
            PromiseState.BROKEN,
            PromiseState.CANCELLED,
        }
    ),
    PromiseState.AT_RISK: frozenset(
        {PromiseState.KEPT, PromiseState.EXCEEDED, PromiseState.BROKEN, PromiseState.CANCELLED}
    ),
    PromiseState.KEPT: frozenset(),
    PromiseState.EXCEEDED: frozenset(),
    PromiseState.BROKEN: frozenset(),
    PromiseState.CANCELLED: frozenset(),
}

RESOLVED_STATES = frozenset({PromiseState.KEPT, PromiseState.EXCEEDED, PromiseState.BROKEN})
KEPT_STATES = frozenset({PromiseState.KEPT, PromiseState.EXCEEDED})


def can_transition(src: PromiseState, dst: PromiseState) -> bool:
    return dst in TRANSITIONS[src]


class Breach(StrEnum):
    LATE = "late"  # fulfilled after it was due
    NOT_FULFILLED = "not_fulfilled"  # due passed with nothing


class BrokenReason(StrEnum):
    """Why a broken promise broke (the ledger's ``broken_reason``)."""

    LATE = "late"  # fulfilled, but after it was due
    NEVER_FULFILLED = "never_fulfilled"  # due passed and nothing fulfilled it (as of the as-of)
    CANCELED = "canceled"  # voided after it was already overdue, never fulfilled


def broken_reason(
    state: PromiseState, fulfilled_at: datetime | None, voided_at: datetime | None
) -> BrokenReason | None:
    """The reason of a broken promise (None for any other state); the times are those known
    as of the as-of time. A promise fulfilled late is late even if a void came between."""
    if state is not PromiseState.BROKEN:
        return None
    if fulfilled_at is not None:
        return BrokenReason.LATE
    if voided_at is not None:
        return BrokenReason.CANCELED
    return BrokenReason.NEVER_FULFILLED


class RiskKind(StrEnum):
    MILESTONE_DEADLINE = "milestone_deadline"
    MILESTONE_SLOWER_THAN_USUAL = "milestone_slower_than_usual"
    SLOWER_THAN_USUAL = "slower_than_usual"
    DUE_SOON = "due_soon"


@dataclass(frozen=True)
class RiskRule:
    """When an open promise counts as at risk.

    - ``milestone_deadline``: the ``milestone`` event has not happened by a
      deadline: the opening event's ``attrs[deadline_attr]``, else opening time
      + ``within``.
    - ``milestone_slower_than_usual``: the milestone came (or is still missing)
      later than this customer's usual delay to it, by the rule's tolerance.
    - ``slower_than_usual``: still unfulfilled after this customer's usual
      fulfilment time, by the rule's tolerance.
    - ``due_soon``: unfulfilled ``before_due`` ahead of the due time.
    """

    reason: str
    kind: RiskKind
    milestone: str | None = None
    deadline_attr: str | None = None
    within: timedelta | None = None
    before_due: timedelta | None = None


@dataclass(frozen=True)
class PromiseRule:
    name: str
    kind: str
    department: str
    opens_on: str
    fulfilled_by: str
    voided_by: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # empty: any channel
    use_event_due: bool = True  # take the opening event's due_at when it has one
    due_after: timedelta = timedelta(days=7)  # opening time + this (fallback or always)
    exceeded_margin: timedelta = timedelta(0)
    baseline_tolerance: float = 0.25
    baseline_min_gap: timedelta = timedelta(hours=1)
    risks: tuple[RiskRule, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[PromiseRule, ...]
    version: str = field(default="")  # content hash of the definition

    def by_name(self, name: str) -> PromiseRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    @property
    def kinds(self) -> list[str]:
        return sorted({r.kind for r in self.rules})


_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*w)?\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*$"
)


def parse_duration(text: str) -> timedelta:
    """Parse ``"7d"``, ``"24h"``, ``"1d12h"``, ``"90m"``, ``"2w"`` into a timedelta."""
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (use e.g. 7d, 24h, 1d12h, 90m, 2w)")
    weeks, days, hours, minutes = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


_RULE_KEYS = {
    "name",
    "kind",
    "department",
    "opens_on",
    "fulfilled_by",
    "voided_by",
    "channels",
    "due",
    "due_after",
    "exceeded_margin",
    "baseline_tolerance",
    "baseline_min_gap",
    "risks",
    "description",
}
_RISK_KEYS = {"reason", "kind", "milestone", "deadline_attr", "within", "before_due"}


def _fail(where: str, key: str, message: str) -> RuleError:
    return RuleError(f"{where}, field '{key}': {message}")


def _duration(where: str, key: str, value: object) -> timedelta:
    if not isinstance(value, str):
        raise _fail(where, key, f"expected a duration string like '7d', got {value!r}")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _fail(where, key, str(exc)) from None


def _event_type(where: str, key: str, value: object) -> str:
    if not isinstance(value, str) or value not in EVENT_TYPES:
        raise _fail(
            where,
            key,
            f"unknown event type {value!r}; expected one of " + ", ".join(sorted(EVENT_TYPES)),
        )
    return value


def _str_list(where: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, key, f"expected a list of strings, got {value!r}")
    return tuple(value)


def _risk_from_dict(where: str, data: Mapping[str, Any]) -> RiskRule:
    unknown = set(data) - _RISK_KEYS
    if unknown:
        raise _fail(
            where,
            sorted(unknown)[0],
            "unknown key; expected one of " + ", ".join(sorted(_RISK_KEYS)),
        )
    try:
        kind = RiskKind(data.get("kind", ""))
    except ValueError:
        raise _fail(
            where,
            "kind",
            f"unknown risk kind {data.get('kind')!r}; expected one of "
            + ", ".join(k.value for k in RiskKind),
        ) from None
    reason = data.get("reason") or kind.value
    milestone = data.get("milestone")
    if kind in (RiskKind.MILESTONE_DEADLINE, RiskKind.MILESTONE_SLOWER_THAN_USUAL):
        milestone = _event_type(where, "milestone", milestone)
    within = _duration(where, "within", data["within"]) if "within" in data else None
    before_due = (
        _duration(where, "before_due", data["before_due"]) if "before_due" in data else None
    )
    deadline_attr = data.get("deadline_attr")
    if kind is RiskKind.MILESTONE_DEADLINE and deadline_attr is None and within is None:
        raise _fail(where, "within", "a milestone_deadline risk needs deadline_attr or within")
    if kind is RiskKind.DUE_SOON and before_due is None:
        raise _fail(where, "before_due", "a due_soon risk needs before_due")
    return RiskRule(str(reason), kind, milestone, deadline_attr, within, before_due)


def rule_from_dict(data: Mapping[str, Any], index: int = 0) -> PromiseRule:
    """Build and validate one rule; errors name the rule and the field."""
    where = f"rule #{index + 1} ({data.get('name', 'unnamed')!s})"
    unknown = set(data) - _RULE_KEYS
    if unknown:
        raise _fail(
            where,
            sorted(unknown)[0],
            "unknown key; expected one of " + ", ".join(sorted(_RULE_KEYS)),
        )
    for key in ("name", "kind", "department", "opens_on", "fulfilled_by"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise _fail(where, key, "is required (a non-empty string)")
    if data["department"] not in DEPARTMENTS:
        raise _fail(
            where,
            "department",
            f"unknown department {data['department']!r}; "
            "expected one of " + ", ".join(sorted(DEPARTMENTS)),
        )
    due = data.get("due", "event")
    if due not in ("event", "after"):
        raise _fail(where, "due", f"expected 'event' or 'after', got {due!r}")
    if "due_after" not in data:
        raise _fail(
            where,
            "due_after",
            "is required: the due time after opening "
            "(the fallback when due = 'event' and the event has no due_at)",
        )
    due_after = _duration(where, "due_after", data["due_after"])
    tolerance = data.get("baseline_tolerance", 0.25)
    if not isinstance(tolerance, int | float) or tolerance < 0:
        raise _fail(where, "baseline_tolerance", f"expected a number >= 0, got {tolerance!r}")
    risks = tuple(
        _risk_from_dict(f"{where} risk #{i + 1}", r) for i, r in enumerate(data.get("risks", []))
    )
    if len({r.milestone for r in risks if r.milestone}) > 1:
        raise _fail(where, "risks", "all milestone risks of one rule must name the same milestone")
    return PromiseRule(
        name=data["name"],
        kind=data["kind"],
        department=data["department"],
        opens_on=_event_type(where, "opens_on", data["opens_on"]),
        fulfilled_by=_event_type(where, "fulfilled_by", data["fulfilled_by"]),
        voided_by=tuple(
            _event_type(where, "voided_by", v)
            for v in _str_list(where, "voided_by", data.get("voided_by", []))
        ),
        channels=_str_list(where, "channels", data.get("channels", [])),
        use_event_due=due == "event",
        due_after=due_after,
        exceeded_margin=_duration(where, "exceeded_margin", data.get("exceeded_margin", "0m")),
        baseline_tolerance=float(tolerance),
        baseline_min_gap=_duration(where, "baseline_min_gap", data.get("baseline_min_gap", "1h")),
        risks=risks,
        description=str(data.get("description", "")),
    )


def ruleset_from_dict(data: Mapping[str, Any]) -> RuleSet:
    """Validate a parsed rules document (``{"rules": [...]}``)."""
    raw = data.get("rules")
    if not isinstance(raw, list) or not raw:
        raise RuleError("rules document: field 'rules': expected a non-empty list of [[rules]]")
    rules = tuple(rule_from_dict(r, i) for i, r in enumerate(raw))
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleError(f"rules document: field 'name': duplicate rule name(s) {', '.join(dupes)}")
    version = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return RuleSet(rules, version[:12])


def classify(
    *,
    due_at: datetime,
    as_of: datetime,
    fulfilled_at: datetime | None,
    voided_at: datetime | None,
    at_risk_at: datetime | None,
    exceeded_margin: timedelta,
) -> PromiseState:
    """The state of one promise as of ``as_of`` (the reference semantics).

    Facts later than ``as_of`` are not yet known. A void counts only if it came
    before the promise was fulfilled. Kept means fulfilled at or before
    ``due_at``; exceeded means at or before ``due_at - exceeded_margin``
    (when the margin is positive).
    """
    fulfilled = fulfilled_at if fulfilled_at is not None and fulfilled_at <= as_of else None
    voided = voided_at if voided_at is not None and voided_at <= as_of else None
    if voided is not None and voided <= due_at and (fulfilled is None or voided < fulfilled):
        return PromiseState.CANCELLED
    if fulfilled is not None:
        if fulfilled > due_at:
            return PromiseState.BROKEN
        if exceeded_margin > timedelta(0) and fulfilled <= due_at - exceeded_margin:
            return PromiseState.EXCEEDED
        return PromiseState.KEPT
    if as_of > due_at:
        return PromiseState.BROKEN
    if at_risk_at is not None and at_risk_at <= as_of:
        return PromiseState.AT_RISK
    return PromiseState.OPEN
