"""Systemic-failure detectors: typed specs (``kind`` + parameters) and their runners.

A runner turns the event log (and the promise ledger) into one row per *fact* — a
promise, an invoice, a shipped order — with the group it belongs to (read from the
opening event's attrs), the time that windows it and whether it failed (a *hit*).
:mod:`cxloop.analytics.incidents` counts the facts per group and window, tests the
cells (:mod:`cxloop.domain.stats`) and builds the cohorts. Everything here is an Ibis
expression, so it runs wherever the log lives.

Fact columns (every runner returns them, in this order): see :data:`FACT_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from cxloop.analytics.detector_sources import Sources as Sources
from cxloop.analytics.detector_sources import events_of, joined_group, promises_of
from cxloop.domain.events import EventType
from cxloop.domain.promises import (
    RESOLVED_STATES,
    Breach,
    BrokenReason,
    PromiseState,
    parse_duration,
)
from cxloop.domain.stats import Thresholds
from cxloop.errors import ConfigError

#: One row per fact: ``fact_id`` (unique), the customer and ``ref`` (order, invoice or case),
#: ``grp`` (the dimension values joined by " / "), ``at`` (the time that windows it),
#: ``since`` (when the fact began: complaints are looked for from then on), ``known_at``
#: (when its outcome was known), ``counted`` (in the test's n), ``hit`` (failed),
#: ``affected`` (in the cohort), ``fact`` (a label) and ``fact_value`` (late hours,
#: overcharge; null where none applies).
FACT_COLUMNS = (
    "fact_id",
    "customer_id",
    "ref",
    "grp",
    "at",
    "since",
    "known_at",
    "counted",
    "hit",
    "affected",
    "fact",
    "fact_value",
)
_EPOCH = datetime(1970, 1, 1)
_MONDAY = datetime(1970, 1, 5)  # fixed-length windows start on a Monday: "7d" == "week"


@dataclass(frozen=True)
class Window:
    """How facts are bucketed in time: fixed length (``day``, ``week``, ``14d``),
    calendar ``month``, or ``all`` (one window per group spanning its facts)."""

    text: str
    length: timedelta | None = None

    def start(self, at: ir.TimestampValue) -> ir.TimestampValue:
        if self.text == "all":
            return ibis.literal(_EPOCH, type="timestamp")
        if self.length is None:  # month
            return at.truncate("M")
        size = int(self.length.total_seconds())
        offset = int((_MONDAY - _EPOCH).total_seconds())
        index = (at.epoch_seconds().cast("int64") - offset) // size
        return ibis.literal(_MONDAY, type="timestamp") + (index * size).as_interval("s")

    def span(self, start: datetime, first: datetime, last: datetime) -> tuple[datetime, datetime]:
        """The window ``[start, end)`` of a cell whose facts lie between first and last."""
        if self.text == "all":
            day = timedelta(days=1)
            return _floor_day(first), _floor_day(last) + day
        if self.length is None:
            year, month = divmod(start.month, 12)
            return start, start.replace(year=start.year + year, month=month + 1)
        return start, start + self.length


def _floor_day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def parse_window(text: str) -> Window:
    named = {"day": timedelta(days=1), "week": timedelta(days=7)}
    if text in ("all", "month"):
        return Window(text)
    if text in named:
        return Window(text, named[text])
    try:
        length = parse_duration(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a window (use day, week, month, all, or a length like 14d)"
        ) from None
    if length < timedelta(hours=1) or length.total_seconds() % 3600:
        raise ValueError(f"{text!r}: a window is a whole number of hours, at least 1h")
    return Window(text, length)


# ---------------------------------------------------------------- specs
@dataclass(frozen=True, kw_only=True)
class DetectorSpec:
    """What every detector has: a name, a window and the test's thresholds."""

    name: str
    window: str = "week"
    min_n: int = 20
    min_hits: int = 3
    min_lift: float = 2.0
    alpha: float = 0.05
    description: str = ""
    kind: str = ""

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.min_n, self.min_hits, self.min_lift, self.alpha)

    @property
    def dimension(self) -> str:
        raise NotImplementedError

    def phrase(self) -> str:
        """The facts and what failed, for the incident's summary ("41 of 59 ..."), with a
        ``{window}`` placeholder for the dates."""
        raise NotImplementedError

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


BREAK_WORDS = {
    BrokenReason.LATE.value: "fulfilled late",
    BrokenReason.NEVER_FULFILLED.value: "never fulfilled",
    BrokenReason.CANCELED.value: "canceled once overdue",
}


@dataclass(frozen=True, kw_only=True)
class PromiseBreaks(DetectorSpec):
    """Broken promises of one ledger rule, by dimensions of the opening event's attrs."""

    rule: str = "delivery"
    dimensions: tuple[str, ...] = ("region",)
    time: str = "due"  # window promises by their due time, or by when they were "opened"
    fulfilled_only: bool = False  # count only fulfilled promises; a hit is a late one
    #: the broken reasons (ledger ``broken_reason``) that are this detector's failure; promises
    #: broken another way are left out of the test (n and baseline); empty: every broken one
    breaks: tuple[str, ...] = ()
    #: with ``late`` in ``breaks``: a promise still unfulfilled at most this long after it was
    #: due is running late (a late one), not yet a never-fulfilled one
    running_late_within: str = "14d"
    kind: str = "promise_breaks"

    @property
    def dimension(self) -> str:
        return "+".join(self.dimensions)

    def phrase(self) -> str:
        basis = "due" if self.time == "due" else "made"
        if self.fulfilled_only:
            return f"fulfilled {self.rule} promises {basis} {{window}} were fulfilled late"
        if self.breaks:
            what = " or ".join(BREAK_WORDS[b] for b in self.breaks)
            return f"{self.rule} promises {basis} {{window}} were {what} (other breaks not counted)"
        return f"{self.rule} promises {basis} {{window}} were broken (late or not kept)"


@dataclass(frozen=True, kw_only=True)
class BillingDeviation(DetectorSpec):
    """Invoices whose amount differs from their order's by more than ``tolerance``."""

    tolerance: float = 0.02  # relative to the order amount
    run_attr: str = "run"  # the invoice attr naming its billing run (else: its day)
    window: str = "day"
    kind: str = "billing_deviation"

    @property
    def dimension(self) -> str:
        return self.run_attr

    def phrase(self) -> str:
        return (
            f"invoices issued {{window}} were off their order amount by more than "
            f"{self.tolerance:.0%}"
        )


@dataclass(frozen=True, kw_only=True)
class ContactSpike(DetectorSpec):
    """Shipped orders whose customer contacted support about ``topic``, per product."""

    topic: str = "missing_parts"
    dimensions: tuple[str, ...] = ("sku",)  # read from the order_placed attrs
    order_attr: str = "order"  # the contact attr naming the order (else: the contact's ref)
    kind: str = "contact_spike"

    @property
    def dimension(self) -> str:
        return "+".join(self.dimensions)

    def phrase(self) -> str:
        return f"orders shipped {{window}} drew a {self.topic!r} contact"


SPEC_TYPES: dict[str, type[DetectorSpec]] = {
    "promise_breaks": PromiseBreaks,
    "billing_deviation": BillingDeviation,
    "contact_spike": ContactSpike,
}


# ---------------------------------------------------------------- runners
def _of(events: ir.Table, kind: EventType) -> ir.Table:
    return events.filter(events.event_type == kind.value)


def promise_facts(spec: PromiseBreaks, src: Sources) -> ir.Table:
    try:
        opens_on = src.rules.by_name(spec.rule).opens_on
    except KeyError:
        names = ", ".join(r.name for r in src.rules.rules)
        raise ConfigError(
            f"detector {spec.name!r}: no promise rule named {spec.rule!r} (rules: {names})"
        ) from None
    p = promises_of(src, spec.rule, opens_on, spec.dimensions)
    broken = p.state == PromiseState.BROKEN.value
    counted = p.state.isin([s.value for s in RESOLVED_STATES])
    hit = broken
    if spec.fulfilled_only:
        counted = counted & p.fulfilled_at.notnull()
        hit = p.breach == Breach.LATE.value
    if spec.breaks:  # another failure kind would inflate the baseline: leave it out
        reason = p.broken_reason
        if BrokenReason.LATE.value in spec.breaks:
            since = src.as_of - parse_duration(spec.running_late_within)
            running = (reason == BrokenReason.NEVER_FULFILLED.value) & (
                p.due_at >= ibis.literal(since, type="timestamp")
            )
            reason = ibis.ifelse(running, BrokenReason.LATE.value, reason)
        counted = counted & ~(broken & ~reason.isin(list(spec.breaks)))
        hit = hit & reason.isin(list(spec.breaks))
    early = p.fulfilled_at.notnull() & (p.fulfilled_at < p.due_at)
    return p.select(
        fact_id=p.promise_id,
        customer_id=p.customer_id,
        ref=p.ref,
        grp=joined_group(p, len(spec.dimensions)),
        at=p.due_at if spec.time == "due" else p.opened_at,
        since=p.opened_at,
        known_at=ibis.ifelse(early, p.fulfilled_at, p.due_at),
        counted=counted.fill_null(False),
        hit=(counted & hit).fill_null(False),
        affected=broken | (p.state == PromiseState.AT_RISK.value),
        fact=ibis.coalesce(p.breach, p.state),
        fact_value=p.late_hours,
    )


def billing_facts(spec: BillingDeviation, src: Sources) -> ir.Table:
    inv = events_of(src, EventType.INVOICE_ISSUED.value, (spec.run_attr,))
    placed = events_of(src, EventType.ORDER_PLACED.value, ())
    orders = placed.select(o_ref=placed.ref, o_customer=placed.customer_id, o_amount=placed.amount)
    j = inv.join(orders, [inv.ref == orders.o_ref, inv.customer_id == orders.o_customer])
    off = j.amount - j.o_amount
    counted = j.amount.notnull() & j.o_amount.notnull()
    hit = counted & (off.abs() > spec.tolerance * j.o_amount.abs())
    return j.select(
        fact_id=j.event_id,
        customer_id=j.customer_id,
        ref=j.ref,
        grp=ibis.coalesce(j.a0, j.ts.date().cast("string")),
        at=j.ts,
        since=j.ts,
        known_at=j.ts,
        counted=counted,
        hit=hit.fill_null(False),
        affected=hit.fill_null(False),
        fact=ibis.ifelse(off > 0, "overcharged", "undercharged"),
        fact_value=off,
    )


def contact_facts(spec: ContactSpike, src: Sources) -> ir.Table:
    shipped = _of(src.events, EventType.ORDER_SHIPPED)
    ships = shipped.group_by(["customer_id", "ref"]).aggregate(shipped_at=shipped.ts.min())
    placed = events_of(src, EventType.ORDER_PLACED.value, spec.dimensions)
    orders = placed.select(
        o_ref=placed.ref,
        o_customer=placed.customer_id,
        o_grp=joined_group(placed, len(spec.dimensions)),
    )
    s = ships.join(orders, [ships.ref == orders.o_ref, ships.customer_id == orders.o_customer])
    inbound = events_of(src, EventType.CONTACT_INBOUND.value, ("topic", spec.order_attr))
    inbound = inbound.filter(inbound.a0 == spec.topic)
    inbound = inbound.mutate(c_ref=ibis.coalesce(inbound.a1, inbound.ref))
    contacts = inbound.group_by("c_ref").aggregate(contacted_at=inbound.ts.min())
    f = s.left_join(contacts, s.ref == contacts.c_ref)
    hit = f.contacted_at.notnull()
    return f.select(
        fact_id=f.ref,
        customer_id=f.customer_id,
        ref=f.ref,
        grp=f.o_grp,
        at=f.shipped_at,
        since=f.shipped_at,
        known_at=f.contacted_at.fill_null(f.shipped_at),
        counted=ibis.literal(True),
        hit=hit,
        affected=ibis.literal(True),  # the whole product window: most never write in
        fact=ibis.ifelse(hit, "reported_" + spec.topic, "shipped_in_window"),
        fact_value=ibis.null("float64"),
    )


Runner = Callable[[Any, Sources], ir.Table]
RUNNERS: dict[str, Runner] = {
    "promise_breaks": promise_facts,
    "billing_deviation": billing_facts,
    "contact_spike": contact_facts,
}


def facts(spec: DetectorSpec, src: Sources) -> ir.Table:
    """The detector's facts (:data:`FACT_COLUMNS`), via its kind's runner."""
    return RUNNERS[spec.kind](spec, src).select(*FACT_COLUMNS)


# ---------------------------------------------------------------- specs from TOML data
def _check_window(v: Any) -> str | None:
    try:
        parse_window(v)
    except ValueError as exc:
        return str(exc)
    return None


def _check_duration(v: Any) -> str | None:
    try:
        parse_duration(v)
    except ValueError as exc:
        return str(exc)
    return None


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "window": _check_window,
    "min_n": lambda v: None if v >= 1 else "must be at least 1",
    "min_hits": lambda v: None if v >= 1 else "must be at least 1",
    "min_lift": lambda v: None if v >= 1 else "must be at least 1 (a rate at the baseline)",
    "alpha": lambda v: None if 0 < v <= 1 else "must be in (0, 1]",
    "tolerance": lambda v: None if v >= 0 else "must be >= 0",
    "time": lambda v: None if v in ("due", "opened") else "expected 'due' or 'opened'",
    "running_late_within": _check_duration,
    "dimensions": lambda v: None if v else "name at least one attribute",
    "breaks": lambda v: (
        None
        if set(v) <= set(BREAK_WORDS)
        else "expected broken reasons among " + ", ".join(BREAK_WORDS)
    ),
    "name": lambda v: None if v else "is required (a non-empty string)",
}


def _value(declared: str, value: Any) -> Any:
    """``value`` as the field's declared type, or a ValueError saying what was expected."""
    if declared == "bool" and isinstance(value, bool):
        return value
    if declared == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if declared == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if declared == "str" and isinstance(value, str):
        return value
    strings = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if declared.startswith("tuple[str") and strings:
        return tuple(value)
    wanted = {"tuple[str, ...]": "a list of strings"}.get(declared, f"a {declared}")
    raise ValueError(f"expected {wanted}, got {value!r}")


def spec_from_dict(data: Mapping[str, Any], index: int = 0) -> DetectorSpec:
    """One detector spec from a TOML table; errors name the entry and the field."""
    where = f"detector #{index + 1} ({data.get('name', 'unnamed')!s})"
    kind = data.get("kind")
    if kind not in SPEC_TYPES:
        raise ConfigError(
            f"{where}, field 'kind': unknown detector kind {kind!r}; expected one of "
            + ", ".join(SPEC_TYPES)
        )
    cls = SPEC_TYPES[kind]
    declared = {f.name: str(f.type) for f in fields(cls)}
    if "name" not in data:
        raise ConfigError(f"{where}, field 'name': is required (a non-empty string)")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in declared:
            raise ConfigError(
                f"{where}, field '{key}': unknown key; expected one of " + ", ".join(declared)
            )
        try:
            values[key] = _value(declared[key], value)
            problem = _CHECKS[key](values[key]) if key in _CHECKS else None
        except ValueError as exc:
            problem = str(exc)
        if problem:
            raise ConfigError(f"{where}, field '{key}': {problem}")
    return cls(**values)
