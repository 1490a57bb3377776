"""The events several detectors read, with their attrs read out once, shared by them.

A detector reads the known events of a few types and some of their attrs (the order's
carrier and region, its seller, its product...). Five of the default detectors read the
same ``order_placed`` attrs, and reading a JSON attribute is most of the cost of their
queries: :func:`prepare` materialises, once per run of the detectors, each event type
that two or more of them read, with the union of the attrs they read out as columns
(:class:`~cxloop.analytics.detector_sources.Prepared`). The runners then read those
columns instead of the JSON (:func:`~cxloop.analytics.detector_sources.events_of`): the
same facts, from one read of each attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_texts
from cxloop.analytics.detector_sources import EVENT_COLUMNS, Prepared, Sources, promises_of
from cxloop.analytics.detectors import BillingDeviation, ContactSpike, DetectorSpec, PromiseBreaks
from cxloop.domain.events import EventType
from cxloop.domain.promises import RuleSet


def reads(spec: DetectorSpec, rules: RuleSet) -> dict[str, tuple[str, ...]]:
    """The event types ``spec``'s runner reads through ``events_of``, and their attrs."""
    placed = EventType.ORDER_PLACED.value
    if isinstance(spec, PromiseBreaks):
        try:
            return {rules.by_name(spec.rule).opens_on: spec.dimensions}
        except KeyError:  # the runner says so, naming the rules
            return {}
    if isinstance(spec, BillingDeviation):
        return {EventType.INVOICE_ISSUED.value: (spec.run_attr,), placed: ()}
    if isinstance(spec, ContactSpike):
        inbound = EventType.CONTACT_INBOUND.value
        return {placed: spec.dimensions, inbound: ("topic", spec.order_attr)}
    return {}


def shared_reads(specs: Sequence[DetectorSpec], rules: RuleSet) -> dict[str, tuple[str, ...]]:
    """The event types two or more of ``specs`` read, each with the attrs any of them
    reads (in the order first read)."""
    users: dict[str, int] = {}
    keys: dict[str, list[str]] = {}
    for spec in specs:
        for kind, wanted in reads(spec, rules).items():
            users[kind] = users.get(kind, 0) + 1
            known = keys.setdefault(kind, [])
            known.extend(k for k in wanted if k not in known)
    return {kind: tuple(keys[kind]) for kind, n in users.items() if n > 1}


def prepare(
    src: Sources,
    specs: Sequence[DetectorSpec],
    cache: Callable[[ir.Table], ir.Table],
    engine: str = "",
) -> tuple[Sources, list[ir.Table]]:
    """``src`` with the event types the specs share read out once (``cache`` materialises
    each on ``engine``); the cached tables, to release when the detectors are done."""
    prepared: dict[str, Prepared] = {}
    for kind, keys in shared_reads(specs, src.rules).items():
        ev = src.events.filter(src.events.event_type == kind)
        texts = attr_texts(ev.attrs, keys, engine)
        attrs = {f"a{i}": text for i, text in enumerate(texts)}
        prepared[kind] = Prepared(cache(ev.select(*EVENT_COLUMNS, **attrs)), keys)
    src = replace(src, prepared=prepared)
    promises: dict[str, Prepared] = {}
    for rule, (opens_on, keys) in shared_rules(specs, src.rules).items():
        promises[rule] = Prepared(cache(promises_of(src, rule, opens_on, keys)), keys)
    cached = [p.table for p in [*prepared.values(), *promises.values()]]
    return replace(src, promises=promises), cached


def shared_rules(
    specs: Sequence[DetectorSpec], rules: RuleSet
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The promise rules two or more of ``specs`` read: each rule's opening event type and
    the attrs any of them reads from it."""
    users: dict[str, list[PromiseBreaks]] = {}
    for spec in specs:
        if isinstance(spec, PromiseBreaks):
            users.setdefault(spec.rule, []).append(spec)
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for rule, group in users.items():
        if len(group) < 2 or rule not in {r.name for r in rules.rules}:
            continue
        keys: list[str] = []
        for spec in group:
            keys.extend(k for k in spec.dimensions if k not in keys)
        out[rule] = (rules.by_name(rule).opens_on, tuple(keys))
    return out
