"""The engine-side inputs of the daily brief, without the text models.

:func:`cxloop.services.brief.daily.brief` is built from four kinds of query over the log and
the ledger; the rest (topics, sentiment, ranking) runs in Python on their results. This
module states those queries as Ibis expressions, so they run on whichever engine the
workspace uses (DuckDB, PostgreSQL, Spark), and :func:`brief_inputs` executes them and
counts their rows: what the scale benchmark (``bench/scale.py``) times on each engine.

- ``order_values``: the value of each order (``ref``): the sum of its ``order_placed``
  amounts, aggregated on the engine (the brief's ``_order_values`` does it in pandas).
- ``voice_scores``: the score inputs of the voice reports: the scored answers (NPS,
  CSAT, CES, reviews, eNPS, pulse) counted by voice, week, metric and score, which is
  all :func:`cxloop.domain.scores.estimate` needs for any week or window.
- ``incident_cells``: each detector's facts counted per group and window
  (:func:`cxloop.analytics.incidents.cells_expr`), as
  :func:`cxloop.services.incidents.detect.detect` runs them (one query per detector;
  ``incident_cells.NAME`` gives each one's rows).
- ``signals``: the case signals of the open window
  (:func:`cxloop.analytics.signals.all_signals` over the log and the built ledger).

No raw SQL: every part is an Ibis expression over ``ws.events()`` and the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

import ibis.expr.types as ir

from cxloop.analytics.detectors import Sources, facts
from cxloop.analytics.incidents import cells_expr
from cxloop.analytics.signals import all_signals
from cxloop.analytics.voice import voice_expr
from cxloop.domain.cases import SignalRules
from cxloop.domain.events import EventType
from cxloop.domain.scores import SCALES, Scale
from cxloop.services.incidents.detect import load_detectors, shared_sources
from cxloop.services.promises.ledger import ensure_ledger, promises_table
from cxloop.workspace.workspace import Workspace

PARTS = ("order_values", "voice_scores", "incident_cells", "signals")


def order_values(events: ir.Table) -> ir.Table:
    """One row per order ref with an amount: ``ref``, ``value`` (the sum of its amounts)."""
    o = events.filter(
        (events.event_type == EventType.ORDER_PLACED.value)
        & events.ref.notnull()
        & events.amount.notnull()
    )
    return o.group_by("ref").aggregate(value=o.amount.sum())


def voice_scores(events: ir.Table, scales: Mapping[str, Scale] | None = None) -> ir.Table:
    """Scored answers counted by ``voice``, ``week`` (its Monday), ``metric`` and ``score``."""
    v = voice_expr(events)
    v = v.filter(v.metric.isin(list(SCALES if scales is None else scales)) & v.score.notnull())
    return v.group_by(["voice", v.ts.truncate("W").name("week"), "metric", "score"]).aggregate(
        n=v.count()
    )


def _as_of(ws: Workspace) -> datetime:
    """The built ledger's as-of time (built first when stale), as the brief's readers use."""
    status = ensure_ledger(ws)
    if status.get("as_of"):
        return datetime.fromisoformat(str(status["as_of"]))
    return ws.clock.now()


@contextmanager
def brief_input_exprs(
    ws: Workspace, rules: SignalRules | None = None
) -> Iterator[dict[str, ir.Table]]:
    """The brief's engine-side queries, by name (see the module docstring); the incident
    cells come one expression per detector, named ``incident_cells.NAME``. The events the
    detectors share are materialised for the block (as
    :func:`~cxloop.services.incidents.detect.detect` does): run the expressions inside it."""
    as_of = _as_of(ws)
    events = ws.events()
    ledger = promises_table(ws, refresh=False)
    known = events.filter(events.ts <= as_of)
    specs = load_detectors()
    with shared_sources(ws, Sources(known, events, ledger, ws.rules, as_of), specs) as src:
        exprs: dict[str, ir.Table] = {
            "order_values": order_values(events),
            "voice_scores": voice_scores(events, ws.scales),
        }
        for spec in specs:
            exprs[f"incident_cells.{spec.name}"] = cells_expr(facts(spec, src), spec.window)
        exprs["signals"] = all_signals(events, ledger, rules or SignalRules(), as_of)
        yield exprs


def brief_inputs(ws: Workspace, rules: SignalRules | None = None) -> dict[str, int]:
    """Run the brief's engine-side queries on ``ws``'s engine, fetching every result (as
    the brief does); the rows of each part, and of each detector's cells."""
    counts: dict[str, int] = {}
    with brief_input_exprs(ws, rules) as exprs:
        for name, expr in exprs.items():
            counts[name] = int(ws.ibis.to_pyarrow(expr).num_rows)
    counts["incident_cells"] = sum(n for k, n in counts.items() if k.startswith("incident_cells."))
    return {**{p: counts[p] for p in PARTS}, **counts}
