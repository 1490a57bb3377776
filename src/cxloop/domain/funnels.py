"""Funnels and paths as data: steps, filters, windows, exclusions (pure, no I/O).

A step is an event type with optional attribute filters, written on the command line as::

    [NAME:] EVENT_TYPE [where KEY OP VALUE [and KEY OP VALUE ...]] [within DURATION] [optional]

e.g. ``"delivered: order_delivered where region=SP within 30d"`` or
``"review where score<=2 optional"``. ``OP`` is one of ``= != < <= > >=``; ``KEY`` is an event
column (channel, department, ref, amount) or a key of the event's attributes. An exclusion is
``EVENT_TYPE [where ...] [between STEP and STEP]`` (steps by name or 1-based number). The same
funnel as a TOML file: see ``cxloop/rules/funnel.toml`` and docs/funnels.md. Every error
names the step (or exclusion) and the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cxloop.domain.events import EventType
from cxloop.domain.promises import parse_duration
from cxloop.errors import ConfigError

ORDERS = ("ordered", "unordered", "strict")
CONVERSION_FROM = ("first", "previous")
OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
#: event columns a filter or a breakdown may name (anything else is an attribute key)
COLUMNS = ("channel", "department", "ref", "amount", "source")


@dataclass(frozen=True)
class Condition:
    key: str
    op: str
    value: str

    @property
    def numeric(self) -> bool:
        """Compared as numbers (an order comparison, or an equality with a number)."""
        if self.op in ("<", "<=", ">", ">="):
            return True
        try:
            return math.isfinite(float(self.value))
        except ValueError:
            return False

    def text(self) -> str:
        return f"{self.key}{self.op}{self.value}"


@dataclass(frozen=True)
class Step:
    """One step: an event type, filters on it, its own window, whether it may be skipped."""

    name: str
    event: str
    where: tuple[Condition, ...] = ()
    within: timedelta | None = None
    optional: bool = False

    def describe(self) -> str:
        out = self.event
        if self.where:
            out += " where " + " and ".join(c.text() for c in self.where)
        return out


@dataclass(frozen=True)
class Exclusion:
    """An event that, between two steps of an attempt, removes the attempt."""

    event: str
    where: tuple[Condition, ...] = ()
    start: int = 0  # step index (0-based)
    end: int = -1  # step index; -1: the last step


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[Step, ...]
    order: str = "ordered"
    window: timedelta = timedelta(days=30)
    exclusions: tuple[Exclusion, ...] = ()
    by: str | None = None
    conversion_from: str = "first"
    bins: int = 10

    @property
    def required(self) -> list[int]:
        return [i for i, s in enumerate(self.steps) if not s.optional]

    def as_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "window_hours": self.window.total_seconds() / 3600,
            "by": self.by,
            "conversion_from": self.conversion_from,
            "steps": [
                {
                    "name": s.name,
                    "event": s.describe(),
                    "within_hours": None if s.within is None else s.within.total_seconds() / 3600,
                    "optional": s.optional,
                }
                for s in self.steps
            ],
            "exclusions": [
                {
                    "event": Step("", e.event, e.where).describe(),
                    "between": [self.steps[e.start].name, self.steps[e.end].name],
                }
                for e in self.exclusions
            ],
        }


_COND = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$")
#: The longest step, exclusion or filter text read (a step is a few dozen characters): the
#: patterns below backtrack, so a longer text is refused before any of them runs.
MAX_STEP_CHARS = 1000


def _short(text: str, where: str) -> str:
    if len(text) > MAX_STEP_CHARS:
        raise ConfigError(
            f"{where}: {len(text):,} characters, at most {MAX_STEP_CHARS:,} (a step reads "
            "EVENT [where KEY OP VALUE ...] [within DURATION] [optional])"
        )
    return text


_NAME = re.compile(r"^\s*([\w .-]+?)\s*:\s*(?=\S)")


def parse_conditions(text: str, where: str) -> tuple[Condition, ...]:
    """``"region=SP and score>=4"`` as conditions; errors name ``where``."""
    out = []
    for part in re.split(r"\s+and\s+", _short(text, where).strip()):
        m = _COND.match(part)
        if m is None or not m.group(3):
            raise ConfigError(
                f"{where}: field 'where': {part!r} is not KEY OP VALUE (OP one of "
                + " ".join(OPERATORS)
                + ")"
            )
        value = m.group(3).strip("'\"")
        out.append(Condition(m.group(1), m.group(2), value))
    return tuple(out)


def _event(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: field 'event': missing (an event type)")
    event = value.strip()
    known = [e.value for e in EventType]
    if event not in known:
        raise ConfigError(
            f"{where}: field 'event': unknown event type {event!r}; expected one of "
            + ", ".join(known)
        )
    return event


def duration_field(value: object, where: str, name: str) -> timedelta:
    try:
        found = parse_duration(str(value))
    except (ValueError, OverflowError):
        raise ConfigError(
            f"{where}: field {name!r}: {value!r} is not a duration (e.g. 12h, 30d, 2w)"
        ) from None
    if found <= timedelta(0):
        raise ConfigError(f"{where}: field {name!r}: must be longer than zero")
    return found


def parse_step(text: str, number: int) -> Step:
    """One ``--step`` (``number`` is 1-based, for the messages)."""
    where = f"step {number}"
    rest = _short(text, where).strip()
    name = ""
    m = _NAME.match(rest)
    if m is not None:
        name, rest = m.group(1), rest[m.end() :]
    optional = False
    if re.search(r"\s+optional\s*$", " " + rest):
        optional, rest = True, re.sub(r"\s*optional\s*$", "", rest)
    within = None
    m = re.search(r"\s+within\s+(\S+)\s*$", rest)
    if m is not None:
        within, rest = duration_field(m.group(1), where, "within"), rest[: m.start()]
    conds: tuple[Condition, ...] = ()
    head, sep, tail = rest.partition(" where ")
    if sep:
        conds = parse_conditions(tail, where)
    event = _event(head, where)
    return Step(name or event, event, conds, within, optional)


def parse_exclusion(text: str, steps: tuple[Step, ...], number: int) -> Exclusion:
    """One ``--exclude``: ``EVENT [where ...] [between STEP and STEP]``."""
    where = f"exclusion {number}"
    rest, start, end = _short(text, where).strip(), 0, len(steps) - 1
    m = re.search(r"\s+between\s+(.+?)\s+and\s+(.+?)\s*$", rest)
    if m is not None:
        start = step_index(m.group(1), steps, where, "between")
        end = step_index(m.group(2), steps, where, "between")
        rest = rest[: m.start()]
    head, sep, tail = rest.partition(" where ")
    conds = parse_conditions(tail, where) if sep else ()
    return _exclusion(_event(head, where), conds, start, end, where)


def _exclusion(
    event: str, conds: tuple[Condition, ...], start: int, end: int, where: str
) -> Exclusion:
    if end <= start:
        raise ConfigError(f"{where}: field 'between': the second step must come after the first")
    return Exclusion(event, conds, start, end)


def step_index(ref: object, steps: tuple[Step, ...], where: str, name: str) -> int:
    """A step named by its name or its 1-based number."""
    text = str(ref).strip()
    if text.isdigit() and 1 <= int(text) <= len(steps):
        return int(text) - 1
    for i, s in enumerate(steps):
        if s.name == text:
            return i
    raise ConfigError(
        f"{where}: field {name!r}: no step {text!r} (steps: "
        + ", ".join(s.name for s in steps)
        + f", or 1 to {len(steps)})"
    )


def build_funnel(
    steps: list[Step],
    *,
    order: str = "ordered",
    window: timedelta,
    exclusions: list[Exclusion] | None = None,
    by: str | None = None,
    conversion_from: str = "first",
    bins: int = 10,
) -> FunnelSpec:
    """A checked funnel: what each order supports, names unique, at least two steps."""
    if order not in ORDERS:
        raise ConfigError(f"funnel: field 'order': {order!r}; expected one of {', '.join(ORDERS)}")
    if conversion_from not in CONVERSION_FROM:
        raise ConfigError(f"funnel: field 'from': {conversion_from!r}; expected first or previous")
    if len(steps) < 2:
        raise ConfigError("funnel: field 'steps': a funnel needs at least two steps")
    names = [s.name for s in steps]
    for i, s in enumerate(steps):
        if names.index(s.name) != i:
            raise ConfigError(f"step {i + 1}: field 'name': {s.name!r} is used twice; name it")
        _check_step(s, i, order, len(steps))
    if bins < 1:
        raise ConfigError("funnel: field 'bins': at least 1")
    return FunnelSpec(
        tuple(steps), order, window, tuple(exclusions or ()), by or None, conversion_from, bins
    )


def _check_step(s: Step, i: int, order: str, n: int) -> None:
    where = f"step {i + 1} ({s.name})"
    if s.optional and (order != "ordered" or i == 0 or i == n - 1):
        raise ConfigError(
            f"{where}: field 'optional': only a middle step of an ordered funnel may be optional"
        )
    if s.within is not None and (order == "unordered" or i == 0):
        raise ConfigError(
            f"{where}: field 'within': a step's own window needs an ordered or strict funnel "
            "and a step before it"
        )


def funnel_from_dict(data: dict[str, Any], where: str) -> FunnelSpec:
    """A funnel from a parsed TOML file (``where`` names the file in errors)."""
    known = {"order", "window", "from", "by", "bins", "steps", "exclude", "description"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown field {key!r} (known: {', '.join(sorted(known))})")
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: field 'steps': a list of [[steps]] tables is required")
    steps = [_step_from_dict(s, i + 1, where) for i, s in enumerate(raw)]
    window = duration_field(data.get("window", "30d"), f"{where}: funnel", "window")
    excl_raw = data.get("exclude", [])
    if not isinstance(excl_raw, list):
        raise ConfigError(f"{where}: field 'exclude': a list of [[exclude]] tables")
    exclusions = [
        _exclusion_from_dict(e, tuple(steps), i + 1, where) for i, e in enumerate(excl_raw)
    ]
    try:
        return build_funnel(
            steps,
            order=str(data.get("order", "ordered")),
            window=window,
            exclusions=exclusions,
            by=data.get("by"),
            conversion_from=str(data.get("from", "first")),
            bins=int(data.get("bins", 10)),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _where_field(value: object, where: str) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return parse_conditions(value, where)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(c for v in value for c in parse_conditions(v, where))
    if isinstance(value, dict):
        return tuple(Condition(str(k), "=", _text(v)) for k, v in value.items())
    raise ConfigError(f"{where}: field 'where': a string, a list of strings or a table")


def _text(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _step_from_dict(raw: object, number: int, where: str) -> Step:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: step {number}: a table with event = ...")
    label = f"{where}: step {number}" + (f" ({raw['name']})" if "name" in raw else "")
    unknown = set(raw) - {"name", "event", "where", "within", "optional"}
    if unknown:
        raise ConfigError(f"{label}: unknown field {sorted(unknown)[0]!r}")
    event = _event(raw.get("event"), label)
    within = raw.get("within")
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise ConfigError(f"{label}: field 'optional': true or false")
    return Step(
        str(raw.get("name") or event),
        event,
        _where_field(raw.get("where"), label),
        None if within is None else duration_field(within, label, "within"),
        optional,
    )


def _exclusion_from_dict(
    raw: object, steps: tuple[Step, ...], number: int, where: str
) -> Exclusion:
    label = f"{where}: exclusion {number}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: a table with event = ...")
    between = raw.get("between", [1, len(steps)])
    if not isinstance(between, list) or len(between) != 2:
        raise ConfigError(f'{label}: field \'between\': two steps, e.g. ["placed", "delivered"]')
    start = step_index(between[0], steps, label, "between")
    end = step_index(between[1], steps, label, "between")
    event = _event(raw.get("event"), label)
    return _exclusion(event, _where_field(raw.get("where"), label), start, end, label)


@dataclass(frozen=True)
class PathSpec:
    """Paths: the event types customers followed after, before or between anchors."""

    direction: str  # after | before | between
    anchor: Step
    end: Step | None = None  # for between
    steps: int = 3
    top: int = 10


def build_paths(
    *, after: str | None, before: str | None, between: tuple[str, str] | None, steps: int, top: int
) -> PathSpec:
    given = [x for x in (after, before, between) if x]
    if len(given) != 1:
        raise ConfigError("paths: give exactly one of --after STEP, --before STEP, --between A B")
    if not 1 <= steps <= 10 or top < 1:
        raise ConfigError("paths: --steps from 1 to 10 and --top at least 1")
    if between:
        return PathSpec("between", parse_step(between[0], 1), parse_step(between[1], 2), steps, top)
    direction = "after" if after else "before"
    return PathSpec(direction, parse_step(str(after or before), 1), None, steps, top)
