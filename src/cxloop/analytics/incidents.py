"""From a detector's facts to incidents, and from an incident to its cohort.

:func:`cells_expr` counts the facts per group and window (Ibis); :func:`build_incidents`
tests the cells (:func:`cxloop.domain.stats.score_cells`: exact binomial test against
the rate outside the cell, Benjamini–Hochberg across the detector's cells), merges
flagged cells of one group in adjacent windows and describes each run as an
:class:`~cxloop.domain.incidents.Incident`; :func:`cohort_expr` lists the customers
it touched, whether they had already complained and whether they later wrote a low
review. See docs/outreach.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.analytics.detectors import DetectorSpec, Sources, parse_window
from cxloop.domain.events import EventType
from cxloop.domain.incidents import Incident
from cxloop.domain.stats import Cell, ScoredCell, merge_runs, score_cells

#: The cohort's columns, in order (docs/outreach.md documents each).
COHORT_COLUMNS = (
    "incident_id",
    "customer_id",
    "ref",
    "fact",
    "fact_value",
    "fact_at",
    "complained",
    "complained_at",
    "low_review",
    "low_review_at",
    "low_review_score",
    "detectable_at",
    "could_reach_first",
)
VOICE_EVENTS = (EventType.REVIEW.value, EventType.SURVEY_RESPONSE.value)


def cells_expr(facts: ir.Table, window: str) -> ir.Table:
    """Counted facts per group and window: n, hits, their time span and when known."""
    f = facts.filter(facts.counted & facts.grp.notnull() & facts.at.notnull())
    f = f.mutate(w_start=parse_window(window).start(f.at))
    return f.group_by(["grp", "w_start"]).aggregate(
        n=f.count(),
        hits=ibis.ifelse(f.hit, 1, 0).cast("int64").sum().fill_null(0),
        first_at=f.at.min(),
        last_at=f.at.max(),
        known_max=f.known_at.max(),
        value_total=f.fact_value.sum(where=f.hit),
    )


@dataclass(frozen=True)
class CellRow:
    """One row of :func:`cells_expr`, as plain Python values."""

    grp: str
    w_start: datetime
    n: int
    hits: int
    first_at: datetime
    last_at: datetime
    known_max: datetime
    value_total: float | None


def build_incidents(spec: DetectorSpec, rows: Sequence[CellRow], as_of: datetime) -> list[Incident]:
    """Test the cells, merge flagged runs, and describe each run as an incident."""
    window = parse_window(spec.window)
    cells = []
    for r in rows:
        start, end = window.span(r.w_start, r.first_at, r.last_at)
        cells.append(Cell(r.grp, start, end, r.n, r.hits, min(as_of, max(end, r.known_max))))
    scored = score_cells(cells, spec.thresholds)
    totals = (sum(r.n for r in rows), sum(r.hits for r in rows))
    extra = {(c.group, c.window_start): r for c, r in zip(cells, rows, strict=True)}
    return [_incident(spec, run, totals, len(scored), extra, as_of) for run in merge_runs(scored)]


def _incident(
    spec: DetectorSpec,
    run: list[ScoredCell],
    totals: tuple[int, int],
    tested: int,
    rows: Mapping[tuple[str, datetime], CellRow],
    as_of: datetime,
) -> Incident:
    first, last = run[0].cell, run[-1].cell
    n, hits = sum(c.cell.n for c in run), sum(c.cell.hits for c in run)
    outside_n = totals[0] - n
    baseline = (totals[1] - hits) / outside_n if outside_n else 0.0
    key = f"{spec.name}|{spec.dimension}|{first.group}|{first.window_start.isoformat()}"
    own = [rows[(c.cell.group, c.cell.window_start)] for c in run]
    what = spec.phrase().format(window=_days(first.window_start, last.window_end))
    return Incident(
        incident_id="inc-" + hashlib.sha256(key.encode()).hexdigest()[:12],
        detector=spec.name,
        kind=spec.kind,
        dimension=spec.dimension,
        value=first.group,
        window_start=first.window_start,
        window_end=last.window_end,
        n=n,
        hits=hits,
        rate=hits / n,
        baseline_rate=baseline,
        p_value=min(c.p_value for c in run),
        q_value=min(c.q_value for c in run),
        method=method_text(spec, tested),
        summary=f"{first.group}: {hits} of {n} {what}; {hits / n:.0%} vs {baseline:.1%} elsewhere",
        details=_details(spec, run, own, totals, tested),
        detectable_at=min(c.cell.detectable_at for c in run),
        detected_at=as_of,
    )


def _days(start: datetime, end: datetime) -> str:
    """``[start, end)`` for people: the last day, not the exclusive end."""
    if end.time() == datetime.min.time():
        last = end - timedelta(days=1)
        if last.date() == start.date():
            return f"on {start:%Y-%m-%d}"
        return f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


def _details(
    spec: DetectorSpec,
    run: list[ScoredCell],
    own: list[CellRow],
    totals: tuple[int, int],
    tested: int,
) -> dict[str, Any]:
    values = [r.value_total for r in own if r.value_total is not None]
    return {
        "spec": spec.as_dict(),
        "cells": [_cell_details(c) for c in run],
        "first_at": min(r.first_at for r in own).isoformat(),
        "last_at": max(r.last_at for r in own).isoformat(),
        "hit_value_total": round(sum(values), 2) if values else None,
        "tested_cells": tested,
        "facts": totals[0],
        "hits_all": totals[1],
    }


def method_text(spec: DetectorSpec, tested: int) -> str:
    return (
        f"one-sided exact binomial test of each {spec.window} cell with n >= {spec.min_n} "
        f"against the rate outside the cell; Benjamini-Hochberg FDR q <= {spec.alpha:g} "
        f"across {tested} tested cells; flagged at >= {spec.min_lift:g}x the baseline "
        f"and >= {spec.min_hits} hits"
    )


def _cell_details(c: ScoredCell) -> dict[str, Any]:
    return {
        "window_start": c.cell.window_start.isoformat(),
        "window_end": c.cell.window_end.isoformat(),
        "n": c.cell.n,
        "hits": c.cell.hits,
        "rate": round(c.rate, 4),
        "baseline_rate": round(c.baseline_rate, 4),
        "p_value": c.p_value,
        "q_value": c.q_value,
        "detectable_at": c.cell.detectable_at.isoformat(),
    }


# ---------------------------------------------------------------- cohorts
def _signals(events: ir.Table, low_score: float) -> ir.Table:
    """What a customer said about a ref: contacts (naming it in ``attrs.order`` or as their
    own ref) and low review/survey scores: ``s_customer, s_ref, s_at, s_low, s_score``."""
    inbound = events.filter(events.event_type == EventType.CONTACT_INBOUND.value)
    voice = events.filter(events.event_type.isin(VOICE_EVENTS))
    voice = voice.mutate(score=attr_number(voice.attrs, "score"))
    voice = voice.filter(voice.score <= low_score)
    no_score = ibis.null("float64")
    parts = [
        inbound.select(
            s_customer=inbound.customer_id,
            s_ref=ref,
            s_at=inbound.ts,
            s_low=ibis.literal(False),
            s_score=no_score,
        )
        for ref in (attr_text(inbound.attrs, "order"), inbound.ref)
    ]
    low = voice.select(
        s_customer=voice.customer_id,
        s_ref=voice.ref,
        s_at=voice.ts,
        s_low=ibis.literal(True),
        s_score=voice.score,
    )
    out = parts[0].union(parts[1]).union(low)
    return out.filter(out.s_ref.notnull())


def _keys(members: ir.Table, events: ir.Table) -> ir.Table:
    """Each fact's refs: its own, and for a support case the order its contact named."""
    inbound = events.filter(events.event_type == EventType.CONTACT_INBOUND.value)
    cases = inbound.group_by(k_case=inbound.ref).aggregate(
        k_order=attr_text(inbound.attrs, "order").min()
    )
    j = members.left_join(cases, members.ref == cases.k_case)
    own = j.select(k_fact=j.fact_id, k_customer=j.customer_id, k_ref=j.ref, k_since=j.since)
    via = j.filter(j.k_order.notnull()).select(
        k_fact=j.fact_id, k_customer=j.customer_id, k_ref=j.k_order, k_since=j.since
    )
    return own.union(via)


def cohort_expr(
    facts: ir.Table, incident: Incident, src: Sources, low_score: float = 2
) -> ir.Table:
    """The incident's affected customer-facts (:data:`COHORT_COLUMNS`)."""
    m = facts.filter(
        (facts.grp == incident.value)
        & (facts.at >= ibis.literal(incident.window_start, type="timestamp"))
        & (facts.at < ibis.literal(incident.window_end, type="timestamp"))
        & facts.affected
    )
    k = _keys(m, src.all_events)
    s = _signals(src.all_events, low_score)
    j = k.join(s, [k.k_customer == s.s_customer, k.k_ref == s.s_ref])
    as_of = ibis.literal(src.as_of, type="timestamp")
    said = j.group_by(j.k_fact).aggregate(
        complained_at=j.s_at.min(where=(j.s_at >= j.k_since) & (j.s_at <= as_of)),
        low_review_at=j.s_at.min(where=j.s_low),
        low_review_score=j.s_score.argmin(j.s_at, where=j.s_low),
    )
    out = m.left_join(said, m.fact_id == said.k_fact)
    detectable = ibis.literal(incident.detectable_at or incident.window_end, type="timestamp")
    return out.select(
        incident_id=ibis.literal(incident.incident_id),
        customer_id=out.customer_id,
        ref=out.ref,
        fact=out.fact,
        fact_value=out.fact_value,
        fact_at=out.at,
        complained=out.complained_at.notnull(),
        complained_at=out.complained_at,
        low_review=out.low_review_at.notnull(),
        low_review_at=out.low_review_at,
        low_review_score=out.low_review_score,
        detectable_at=detectable,
        could_reach_first=(out.low_review_at > detectable).fill_null(False),
    ).order_by(["fact_at", "customer_id", "ref"])
