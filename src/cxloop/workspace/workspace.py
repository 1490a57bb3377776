"""The workspace: one store, and the engine that analyses it.

The embedded store (the default) is a directory::

    HOME/
      events/manifest.json, seg-*.parquet   the event log (append-only)
      ledger/manifest.json, *.parquet       the promise ledger (derived, rebuildable)
      state.sqlite                          operational state (WAL): ingest runs, quarantine
      tmp/                                  where DuckDB spills when data outgrows memory
      .lock                                 the writers' lock

With ``database_url`` set, the operational state and the event log live in PostgreSQL
(tables ``cx_events``/``cx_log`` and the state tables, created by the versioned migrations
``cxloop migrate`` applies; a database behind them is refused), the
analytics run there, and the ledger is a table; HOME keeps only local files (the ledger's
build record, voice models, the API's inbox, scratch space).

The engine (``settings.engine``) is what the analytics' Ibis expressions run on:
``duckdb`` over the Parquet log, ``postgres`` over ``cx_events``, or ``spark``, which
reads the same Parquet log (or ``spark_events``) and writes the ledger back as Parquet.

Many processes may open the same store at once: readers never wait, writers take
turns on the lock. Nothing is opened at import time.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

from cxloop.domain.clock import INTERNAL_PREFIX, Clock
from cxloop.domain.promises import RuleSet, ruleset_from_dict
from cxloop.domain.scores import Scale
from cxloop.engines import Engine, EngineContext, open_engine
from cxloop.errors import ConfigError
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog
from cxloop.store.lock import WriteLock
from cxloop.store.logbase import EventStore
from cxloop.store.pglog import PgEventLog
from cxloop.store.state import StateDB
from cxloop.workspace.config import read_toml
from cxloop.workspace.metrics import load_metrics

# the engine functions the analytics call (cxloop.analytics.attrs)
DUCKDB_FUNCTIONS = """
CREATE OR REPLACE TEMP MACRO cx_attr(a, k) AS json_extract_string(a, '$."' || k || '"');
CREATE OR REPLACE TEMP MACRO cx_attr_number(a, k) AS TRY_CAST(cx_attr(a, k) AS DOUBLE);
CREATE OR REPLACE TEMP MACRO cx_attr_time(a, k) AS TRY_CAST(cx_attr(a, k) AS TIMESTAMP);
"""


def load_rules(path: Path | None) -> RuleSet:
    """The promise rules from a TOML file, or the built-in defaults."""
    data, where = read_toml(path, "default.toml", "rules")
    try:
        return ruleset_from_dict(data)
    except ConfigError as exc:
        raise type(exc)(f"{where}: {exc}") from None


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home
        self.home.mkdir(parents=True, exist_ok=True)
        self.engine = settings.engine
        self.log: EventStore
        if settings.database_url:
            self.log = PgEventLog(settings.database_url, self.home / "tmp")
        else:
            self.log = EventLog(self.home / "events")
        self.ledger_dir = self.home / "ledger"
        self.state = StateDB.open(settings)

    @classmethod
    def open(cls, home: str | Path | None = None, **settings: object) -> Workspace:
        return cls(Settings.from_env(None, home=home, **settings))

    @cached_property
    def rules(self) -> RuleSet:
        return load_rules(self.settings.rules)

    @cached_property
    def scales(self) -> dict[str, Scale]:
        """The score metrics in use (built-in, and the ``metrics`` setting's file)."""
        return load_metrics(self.settings.metrics)

    @cached_property
    def clock(self) -> Clock:
        """The store's now (``settings.clock``: data, wall or a fixed time; see
        :mod:`cxloop.domain.clock`): every action is stamped with it, every report is as of it.
        One per workspace, so that the data time is found once per log version (a scan of
        the log) rather than on every read that asks whether the ledger is current."""
        return Clock(
            self.settings.clock, lambda: latest_source_time(self.events()), lambda: self.log.version
        )

    @cached_property
    def duck(self) -> duckdb.DuckDBPyConnection:
        """This workspace's own in-process DuckDB (the engine of the embedded store)."""
        con = duckdb.connect()
        self.configure(con)
        return con

    def configure(self, con: duckdb.DuckDBPyConnection) -> None:
        """Session settings for every DuckDB connection cxloop opens on this store: UTC,
        no progress bars on stdout, spilling (when data outgrows memory) into the store's
        own tmp/ rather than the working directory, and the functions the analytics call.

        Results are fetched whole (Ibis and cxloop both read every row), so a streamed
        result may run ahead of its reader: ``streaming_buffer_size`` is raised from DuckDB's
        1 MiB so that the query's sink rarely blocks on a full buffer (DuckDB 1.4 spun
        forever once in CI un-blocking one, under CPU contention)."""
        spill = str(self.home.resolve() / "tmp").replace("'", "''")
        con.execute(
            "SET TimeZone = 'UTC'; SET enable_progress_bar = false; "
            f"SET temp_directory = '{spill}'; SET streaming_buffer_size = '256MB'"
        )
        con.execute(DUCKDB_FUNCTIONS)

    @cached_property
    def adapter(self) -> Engine:
        """The engine behind this workspace (``settings.engine``; see :mod:`cxloop.engines`)."""
        ctx = EngineContext(self.settings, self.home, self.log, lambda: self.duck)
        return open_engine(self.engine, ctx)

    @property
    def ibis(self) -> SQLBackend:
        """The Ibis backend the analytics run on (``settings.engine``)."""
        return self.adapter.backend

    def writable_log(self, what: str) -> None:
        """Refuse writes to a log this workspace does not read (Spark over an export)."""
        self.adapter.refuse_writes(what)

    def cache(self, expr: ir.Table) -> ir.Table:
        """``expr`` materialised once on the engine (release it with ``.release()``)."""
        return self.adapter.cache(expr)

    def write_lock(self) -> WriteLock:
        return WriteLock(self.home / ".lock", self.settings.lock_timeout)

    def events(self, manifest: dict[str, Any] | None = None) -> ir.Table:
        """The event log as an Ibis table on the workspace's engine: on DuckDB and Spark a
        snapshot of the segments the manifest lists (a later append does not change what an
        open expression reads); on PostgreSQL the ``cx_events`` table."""
        return self.adapter.events(self.log.manifest() if manifest is None else manifest)

    # -- the ledger: a Parquet file (DuckDB), a Parquet directory (Spark) or a table (PostgreSQL)

    def save_ledger(self, expr: ir.Table, name: str) -> int:
        """Materialise ``expr`` as the ledger ``name``; returns its row count."""
        return self.adapter.save(expr, name)

    def ledger_table(self, name: str) -> ir.Table:
        """A built ledger as an Ibis table."""
        return self.adapter.saved(name)

    def drop_ledgers(self, keep: set[str]) -> None:
        """Remove built ledgers but those in ``keep`` (a reader may still use the previous)."""
        self.adapter.drop_saved(keep)

    def close(self) -> None:
        self.state.close()
        adapter = self.__dict__.pop("adapter", None)
        if adapter is not None:
            adapter.close()
        if "duck" in self.__dict__:
            self.duck.close()
            del self.__dict__["duck"]


def latest_source_time(events: ir.Table) -> datetime | None:
    """The time of the latest event not written by cxloop itself (None for none)."""
    mine = events.filter(~events.event_id.startswith(INTERNAL_PREFIX))
    value = mine.ts.max().execute()
    if value is None or value != value:  # no rows (None or NaT)
        return None
    found: datetime = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return found.replace(tzinfo=None)
