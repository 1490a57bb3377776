"""Use cases: detect systemic failures in the log, and list the customers each one touched.

The detectors come from a TOML file (``[[detectors]]`` entries; the built-in
``cxloop/rules/detectors.toml`` by default). See docs/outreach.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.analytics.detector_shared import prepare
from cxloop.analytics.detectors import DetectorSpec, PromiseBreaks, Sources, facts, spec_from_dict
from cxloop.analytics.incidents import (
    COHORT_COLUMNS,
    CellRow,
    build_incidents,
    cells_expr,
    cohort_expr,
)
from cxloop.analytics.ledger import ledger_expr
from cxloop.domain.incidents import Incident
from cxloop.domain.promises import RuleSet
from cxloop.errors import ConfigError
from cxloop.services.promises.ledger import ensure_ledger, promises_table
from cxloop.workspace.config import read_toml
from cxloop.workspace.workspace import Workspace

#: A review or survey score at or below this is a low one (1-5 stars, CSAT 1-5, CES 1-7,
#: NPS 0-10: the bottom of every scale the demo and Olist use).
LOW_SCORE = 2


def load_detectors(path: Path | None = None) -> tuple[DetectorSpec, ...]:
    """The detector specs from a TOML file, or the built-in defaults."""
    data, where = read_toml(path, "detectors.toml", "detectors")
    return specs_from_data(data, where)


def specs_from_data(data: dict[str, Any], where: str) -> tuple[DetectorSpec, ...]:
    entries = data.get("detectors")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: expected one or more [[detectors]] entries")
    unknown = sorted(set(data) - {"detectors"})
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key {unknown[0]!r} (expected [[detectors]])")
    specs: list[DetectorSpec] = []
    for i, entry in enumerate(entries):
        try:
            spec = spec_from_dict(entry, i)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if spec.name in {s.name for s in specs}:
            raise ConfigError(
                f"{where}: detector #{i + 1} ({spec.name}), field 'name': "
                "used by an earlier detector; names must be unique"
            )
        specs.append(spec)
    return tuple(specs)


@contextmanager
def _sources(
    ws: Workspace, as_of: datetime | None, specs: Sequence[DetectorSpec]
) -> Iterator[Sources]:
    """Events and ledger as of ``as_of`` (default: the built ledger's, i.e. the store's clock).
    Another time computes the ledger of the rules the specs read, once, for the block."""
    status = ensure_ledger(ws)
    built = datetime.fromisoformat(status["as_of"]) if status.get("file") else None
    if as_of is not None and as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    when = as_of or built or ws.clock.now()
    events = ws.events()
    known = events.filter(events.ts <= when)
    needed = {s.rule for s in specs if isinstance(s, PromiseBreaks)}
    rules = RuleSet(tuple(r for r in ws.rules.rules if r.name in needed), ws.rules.version)
    if when == built or not rules.rules:
        with shared_sources(
            ws, Sources(known, events, promises_table(ws, refresh=False), ws.rules, when), specs
        ) as src:
            yield src
        return
    ledger = ws.cache(ledger_expr(events, rules, when))
    try:
        with shared_sources(ws, Sources(known, events, ledger, ws.rules, when), specs) as src:
            yield src
    finally:
        ledger.release()


@contextmanager
def shared_sources(ws: Workspace, src: Sources, specs: Sequence[DetectorSpec]) -> Iterator[Sources]:
    """``src`` with the events two or more of ``specs`` read materialised once on the
    engine, their attrs read out (:func:`cxloop.analytics.detector_shared.prepare`),
    released when the block ends."""
    shared, cached = prepare(src, specs, ws.cache, ws.engine)
    try:
        yield shared
    finally:
        for table in cached:
            table.release()


def _cell_rows(spec: DetectorSpec, src: Sources) -> list[CellRow]:
    df = cells_expr(facts(spec, src), spec.window).execute()
    return [
        CellRow(
            grp=str(r.grp),
            w_start=pd.Timestamp(r.w_start).to_pydatetime(),
            n=int(r.n),
            hits=int(r.hits),
            first_at=pd.Timestamp(r.first_at).to_pydatetime(),
            last_at=pd.Timestamp(r.last_at).to_pydatetime(),
            known_max=pd.Timestamp(r.known_max).to_pydatetime(),
            value_total=None if pd.isna(r.value_total) else float(r.value_total),
        )
        for r in df.itertuples(index=False)
    ]


def detect(
    ws: Workspace, *, as_of: datetime | None = None, detectors_path: Path | None = None
) -> list[Incident]:
    """Run every detector over the log as of ``as_of`` (default: the store's clock).

    Incidents come in the detectors' order, then by group and window; their ids are
    stable across runs over the same data.
    """
    specs = load_detectors(detectors_path)
    found: list[Incident] = []
    with _sources(ws, as_of, specs) as src:
        for spec in specs:
            found.extend(build_incidents(spec, _cell_rows(spec, src), src.as_of))
    return found


def cohort(ws: Workspace, incident: Incident) -> pd.DataFrame:
    """The customers the incident touched, one row per affected fact (COHORT_COLUMNS):
    failed ones and, for promises, those at risk in the same group and window."""
    spec = spec_from_dict(incident.details["spec"])
    with _sources(ws, incident.detected_at, [spec]) as src:
        df = cohort_expr(facts(spec, src), incident, src, LOW_SCORE).execute()
    return df[list(COHORT_COLUMNS)].reset_index(drop=True)
