"""What the systemic detectors read (:class:`Sources`), and the events they share.

Several detectors read the same events' attrs (the carrier, region, seller and product of
an order, for five of the default ones): reading a JSON attribute is the costly part of
their queries, so :func:`cxloop.analytics.detector_shared.prepare` reads each one out
once into a table on the engine (:class:`Prepared`), and :func:`events_of` serves the
runners from it (or from the log, when none was prepared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_text
from cxloop.domain.promises import RuleSet

#: The columns of an event that the runners read besides its attrs.
EVENT_COLUMNS = ("event_id", "customer_id", "ref", "ts", "amount")
#: The ledger's columns that the promise runner reads.
PROMISE_COLUMNS = (
    "promise_id",
    "customer_id",
    "ref",
    "opened_at",
    "due_at",
    "fulfilled_at",
    "state",
    "breach",
    "broken_reason",
    "late_hours",
)


@dataclass(frozen=True)
class Prepared:
    """The known events of one type, their :data:`EVENT_COLUMNS` and the attrs ``keys``
    read out once (column ``a0`` for ``keys[0]`` ...): shared by the detectors that
    read them (:mod:`cxloop.analytics.detector_shared`)."""

    table: ir.Table
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Sources:
    """What the runners read: the events known at ``as_of``, every event (low reviews are
    looked up at any time), the ledger as of ``as_of`` and the rules that built it;
    ``prepared``: event types whose attrs were read out once (by event type)."""

    events: ir.Table
    all_events: ir.Table
    ledger: ir.Table
    rules: RuleSet
    as_of: datetime
    prepared: Mapping[str, Prepared] = field(default_factory=dict)
    #: by rule: its promises joined to their opening events' attrs (:func:`promises_of`)
    promises: Mapping[str, Prepared] = field(default_factory=dict)


def events_of(src: Sources, kind: str, keys: Sequence[str]) -> ir.Table:
    """The known events of type ``kind``: :data:`EVENT_COLUMNS` and one text column per
    attrs key (``a0`` for ``keys[0]`` ...), from the prepared table when there is one."""
    ready = src.prepared.get(kind)
    if ready is not None and set(keys) <= set(ready.keys):
        t = ready.table
        picked = {f"a{i}": t[f"a{ready.keys.index(k)}"] for i, k in enumerate(keys)}
        return t.select(*EVENT_COLUMNS, **picked)
    ev = src.events.filter(src.events.event_type == kind)
    return ev.select(
        *EVENT_COLUMNS, **{f"a{i}": attr_text(ev.attrs, k) for i, k in enumerate(keys)}
    )


def promises_of(src: Sources, rule: str, opens_on: str, keys: Sequence[str]) -> ir.Table:
    """The ledger's promises of ``rule`` whose opening event (of type ``opens_on``) is
    known: :data:`PROMISE_COLUMNS` and the opening event's attrs ``keys`` (``a0`` ...),
    from the prepared table when there is one."""
    ready = src.promises.get(rule)
    if ready is not None and set(keys) <= set(ready.keys):
        t = ready.table
        picked = {f"a{i}": t[f"a{ready.keys.index(k)}"] for i, k in enumerate(keys)}
        return t.select(*PROMISE_COLUMNS, **picked)
    ev = events_of(src, opens_on, keys)
    opens = ev.select(o_id=ev.event_id, **{f"a{i}": ev[f"a{i}"] for i in range(len(keys))})
    p = src.ledger.filter(src.ledger.rule == rule)
    p = p.join(opens, p.source_event_id == opens.o_id)
    return p.select(*PROMISE_COLUMNS, *(f"a{i}" for i in range(len(keys))))


def joined_group(t: ir.Table, count: int) -> ir.StringValue:
    """The dimension values (columns ``a0``.. ``a{count-1}``) joined by " / "."""
    out: ir.StringValue = t.a0
    for i in range(1, count):
        out = out + " / " + t[f"a{i}"]  # null when any dimension is missing
    return out
