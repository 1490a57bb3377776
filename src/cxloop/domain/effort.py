"""Effort per issue: the rules that group contacts into issues, and what the figures mean.

Pure (no I/O). The rules come from a TOML file (the built-in ``cxloop/rules/effort.toml``
or the store's ``effort`` setting); :func:`effort_rules_from_dict` checks it and names the
file and the field of anything wrong.

An issue's elapsed time (its first point to its last: contacts, replies, approvals asked
and decided) is split, gap by gap, into four parts that add up to it exactly:

``wait_first_reply``
    the customer spoke and nobody has answered the issue yet;
``wait_between_replies``
    the customer spoke again after an answer and waits for the next one;
``wait_approval``
    an approval (a remedy above the agent's limit) is pending;
``customer_turn``
    the organization answered last: the ball is in the customer's court.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cxloop.domain.promises import parse_duration
from cxloop.errors import ConfigError

#: The parts of an issue's elapsed time, in hours; they add up to ``elapsed_hours``.
WAIT_PARTS = (
    "wait_first_reply_hours",
    "wait_between_replies_hours",
    "wait_approval_hours",
    "customer_turn_hours",
)
#: The dimensions the distributions break down by (those of the issue's first contact).
DIMENSIONS = ("department", "channel", "team", "month")
#: Yes/no figures of an issue: a drill-down may ask for the issues where one holds.
FLAGS = ("repeat", "reopened", "transferred", "one_touch", "first_contact_resolution")


@dataclass(frozen=True)
class EffortRules:
    """How contacts become issues and what counts as a reply, transfer or hold."""

    window: timedelta = timedelta(days=14)
    contact: tuple[str, ...] = ("contact_inbound",)
    reply: tuple[str, ...] = ("reply_sent", "callback_made")
    transfer: tuple[str, ...] = ("transfer",)
    hold: tuple[str, ...] = ("hold",)
    order_attr: str = "order"
    subject_attr: str = "topic"
    team_attr: str = "team"
    hold_attr: str = "hold_seconds"
    repeat_within: timedelta = timedelta(days=7)
    reopen_after: timedelta = timedelta(hours=24)
    live_channels: tuple[str, ...] = ("phone", "store")


def _section(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    unknown = set(value) - _KNOWN[name]
    if unknown:
        raise ConfigError(f"{where}: [{name}] has unknown field(s) {', '.join(sorted(unknown))}")
    return value


def _names(section: dict[str, Any], key: str, where: str, field: str) -> tuple[str, ...] | None:
    if key not in section:
        return None
    value = section[key]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ConfigError(f"{where}: {field} must be a non-empty list of names, got {value!r}")
    return tuple(v.strip() for v in value)


def _duration(section: dict[str, Any], key: str, where: str, field: str) -> timedelta | None:
    if key not in section:
        return None
    try:
        d = parse_duration(str(section[key]))
    except ValueError:
        raise ConfigError(
            f"{where}: {field} must be a duration like 14d, 36h or 2w, got {section[key]!r}"
        ) from None
    if d <= timedelta(0):
        raise ConfigError(f"{where}: {field} must be longer than 0, got {section[key]!r}")
    return d


_KNOWN = {
    "issues": {"window"},
    "events": {"contact", "reply", "transfer", "hold"},
    "attrs": {"order", "subject", "team", "hold_seconds"},
    "measures": {"repeat_within", "reopen_after", "live_channels"},
}
_ATTRS = {"order": "order_attr", "subject": "subject_attr", "team": "team_attr"}


def effort_rules_from_dict(data: dict[str, Any], where: str) -> EffortRules:
    """Check a parsed effort file; every error names ``where`` and the field."""
    unknown = set(data) - set(_KNOWN)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    issues, events = _section(data, "issues", where), _section(data, "events", where)
    attrs, measures = _section(data, "attrs", where), _section(data, "measures", where)
    found: dict[str, Any] = {
        "window": _duration(issues, "window", where, "issues.window"),
        "repeat_within": _duration(measures, "repeat_within", where, "measures.repeat_within"),
        "reopen_after": _duration(measures, "reopen_after", where, "measures.reopen_after"),
        "live_channels": _names(measures, "live_channels", where, "measures.live_channels"),
    }
    for key in _KNOWN["events"]:
        found[key] = _names(events, key, where, f"events.{key}")
    for key, value in attrs.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: attrs.{key} must be an attribute name, got {value!r}")
        found[_ATTRS.get(key, "hold_attr")] = value.strip()
    rules = EffortRules(**{k: v for k, v in found.items() if v is not None})
    overlap = set(rules.contact) & set(rules.reply)
    if overlap:
        raise ConfigError(
            f"{where}: events.contact and events.reply both name {', '.join(sorted(overlap))}"
        )
    return rules
