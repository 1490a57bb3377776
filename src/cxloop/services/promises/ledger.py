"""Use cases: build the promise ledger from the log, and read it (rebuilt when stale)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from cxloop.analytics.ledger import (
    LEDGER_LAYOUT,
    LedgerSources,
    ledger_expr,
    ledger_from_sources,
    ledger_sources,
)
from cxloop.results.ledger import LedgerBuild
from cxloop.services.log import point_reads
from cxloop.store.files import read_json, write_json_atomic
from cxloop.workspace.workspace import Workspace


def _manifest(ws: Workspace) -> dict[str, Any]:
    return read_json(ws.ledger_dir / "manifest.json", {})


def latest_event_time(events: ir.Table) -> datetime:
    """The time of the latest event, cxloop's own included (now, for an empty log).
    Reports are as of the store's clock (``ws.clock.now()``), not this."""
    value = events.ts.max().execute()
    if value is None or value != value:  # empty log (None or NaT)
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value  # type: ignore[no-any-return]


def build_ledger(ws: Workspace, as_of: datetime | None = None) -> LedgerBuild:
    """Rebuild the ledger from the whole log, as of ``as_of`` (default: the store's clock).

    A ledger built as of another time than the clock's is a one-off: the next read
    rebuilds it as of the clock (set the clock to keep a time: ``CXLOOP_CLOCK``)."""
    started = time.perf_counter()
    with ws.write_lock():
        manifest = ws.log.manifest()
        events = ws.events(manifest)
        mode = "fixed" if as_of is not None else ws.clock.mode
        if as_of is not None and as_of.tzinfo is not None:
            as_of = as_of.astimezone(UTC)
        when = as_of.replace(tzinfo=None) if as_of is not None else ws.clock.now()
        ws.ledger_dir.mkdir(parents=True, exist_ok=True)
        name = f"promises-{manifest['version']:06d}-{int(time.time() * 1000)}.parquet"
        # materialise the events the rules read once, instead of one log scan per rule
        raw = ledger_sources(events, ws.rules, when)
        openers, facts = ws.cache(raw.openers), ws.cache(raw.facts)
        try:
            count = ws.save_ledger(
                ledger_from_sources(LedgerSources(openers, facts), ws.rules, when), name
            )
        finally:
            openers.release()
            facts.release()
        old = _manifest(ws).get("file")
        build = LedgerBuild(
            promises=int(count),
            as_of=when.isoformat(),
            as_of_mode=mode,
            log_version=int(manifest["version"]),
            rules_version=ws.rules.version,
            seconds=round(time.perf_counter() - started, 3),
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            file=name,
            engine=ws.engine,
            layout=LEDGER_LAYOUT,
        )
        write_json_atomic(ws.ledger_dir / "manifest.json", build.as_dict())
        # the previous ledger stays: a reader may still use it
        ws.drop_ledgers(keep={name} | ({str(old)} if old else set()))
    return build


def ledger_status(ws: Workspace) -> dict[str, Any]:
    """The built ledger's record, ``stale`` when the log, the rules, the engine or the
    store's clock moved since (a rebuild is then due), and ``clock``: the store's now."""
    m = _manifest(ws)
    version = ws.log.version
    clock = ws.clock  # one clock for the whole status: the seed below spares it a log scan
    if m.get("as_of_mode") == "data" and m.get("log_version") == version:
        # a ledger built on the data clock knows the data time of this log version
        clock.seed(version, datetime.fromisoformat(str(m["as_of"])))
    stale = (
        not m
        or m.get("log_version") != version
        or m.get("rules_version") != ws.rules.version
        or m.get("engine", "duckdb") != ws.engine
        or not clock.current(str(m["as_of"]))
        or m.get("layout") != LEDGER_LAYOUT
    )
    return {**m, "stale": stale, "log_version_now": version, "clock": clock.as_dict()}


def ensure_ledger(ws: Workspace) -> dict[str, Any]:
    """Rebuild (as of the store's clock) when the log, the rules or the clock moved since
    the last build."""
    status = ledger_status(ws)
    if status["stale"]:
        build_ledger(ws)
        status = ledger_status(ws)
    return status


def promises_table(ws: Workspace, refresh: bool = True) -> ir.Table:
    """The ledger as an Ibis table (rebuilt first when stale, unless ``refresh`` is off)."""
    status = ensure_ledger(ws) if refresh else ledger_status(ws)
    if not status.get("file"):
        return ledger_expr(ws.events(), ws.rules, ws.clock.now())
    return ws.ledger_table(str(status["file"]))


#: the columns the promise ledger may be filtered by (API, dashboard, library)
PROMISE_FILTERS = ("state", "kind", "rule", "department", "customer_id")


def promises_expr(ws: Workspace, **where: str | None) -> ir.Table:
    """The ledger's promises, filtered by any of :data:`PROMISE_FILTERS` (None: any),
    oldest first: the one place every edge filters promises."""
    t = promises_table(ws)
    for col, value in where.items():
        if col not in PROMISE_FILTERS:
            raise ValueError(f"promises cannot be filtered by {col!r}")
        if value is not None:
            t = t.filter(t[col] == value)
    return t.order_by(["opened_at", "promise_id"])


def customer_promises(ws: Workspace, customer_id: str) -> pd.DataFrame:
    """One customer's promises, oldest first (the ledger rebuilt first when stale): on the
    embedded store from the ledger's customer-sorted copy, else ``promises_expr``."""
    status = ensure_ledger(ws)
    if status.get("file") and (point_reads.embedded(ws) or ws.engine == "postgres"):
        path = ws.ledger_dir / str(status["file"])
        return point_reads.customer_promises(ws, path, customer_id)
    return promises_expr(ws, customer_id=customer_id).execute()
