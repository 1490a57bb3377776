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
import ibis
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

from cxloop.domain.clock import INTERNAL_PREFIX, Clock
from cxloop.domain.promises import RuleSet, ruleset_from_dict
from cxloop.domain.scores import Scale
from cxloop.errors import ConfigError, Unsupported
from cxloop.services.config import read_toml
from cxloop.services.metrics import load_metrics
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog
from cxloop.store.lock import WriteLock
from cxloop.store.pglog import PgEventLog
from cxloop.store.state import StateDB

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
        self.log: EventLog | PgEventLog
        if settings.database_url:
            self.log = PgEventLog(settings.database_url, self.home / "tmp")
        else:
            self.log = EventLog(self.home / "events")
        self.ledger_dir = self.home / "ledger"
        self.state = StateDB.open(settings)
        self._views: set[str] = set()

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

    @property
    def clock(self) -> Clock:
        """The store's now (``settings.clock``: data, wall or a fixed time; see
        :mod:`cxloop.domain.clock`): every action is stamped with it, every report is as of it."""
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
    def ibis(self) -> SQLBackend:
        """The Ibis backend the analytics run on (``settings.engine``)."""
        if self.engine == "postgres":
            return connect_postgres(self.settings.database_url)
        if self.engine == "spark":
            from cxloop.services.spark import spark_backend

            return spark_backend(self.settings)
        backend: SQLBackend = ibis.duckdb.from_connection(self.duck)
        return backend

    def writable_log(self, what: str) -> None:
        """Refuse writes to a log this workspace does not read: with ``spark_events`` Spark
        analyses an external Parquet export, not the store's own segments."""
        if self.engine == "spark" and self.settings.spark_events:
            raise Unsupported(
                f"{what}: engine=spark with spark_events reads the external Parquet log at "
                f"{self.settings.spark_events}, which cxloop does not write; {what} into the "
                "store that export came from (without CXLOOP_SPARK_EVENTS), then export again"
            )

    def cache(self, expr: ir.Table) -> ir.Table:
        """``expr`` materialised once on the engine (release it with ``.release()``).

        On PostgreSQL the temporary table also gets planner statistics (``ANALYZE``):
        autovacuum never sees temporary tables, and without statistics the planner guesses
        and picks nested loops (7.3 s instead of 0.7 s for the ledger of 100 k events)."""
        cached = expr.cache()
        if self.engine == "postgres":
            name = cached.op().name
            self.ibis.raw_sql(f'ANALYZE "{name}"').close()
        return cached

    def write_lock(self) -> WriteLock:
        return WriteLock(self.home / ".lock", self.settings.lock_timeout)

    def events(self, manifest: dict[str, Any] | None = None) -> ir.Table:
        """The event log as an Ibis table on the workspace's engine.

        On DuckDB and Spark it is a snapshot of the segments the manifest lists: a view
        named by the log version, so expressions over it stay short (Ibis inlines a SQL
        source into every use) and a later append does not change what an open expression
        reads. On PostgreSQL it is the ``cx_events`` table (each query sees whole appends).
        """
        if self.engine == "postgres":
            t = self.ibis.table("cx_events")
            # the key column is NOT NULL there: Ibis would refuse unions with derived columns
            return t.cast(ibis.schema({n: d.copy(nullable=True) for n, d in t.schema().items()}))
        m = self.log.manifest() if manifest is None else manifest
        if self.engine == "spark":
            from cxloop.services.spark import events_view

            return events_view(self, m)
        assert isinstance(self.log, EventLog)
        return self._view(f"cx_events_v{int(m['version'])}", self.log.relation_sql(m))

    # -- the ledger: a Parquet file (DuckDB), a Parquet directory (Spark) or a table (PostgreSQL)

    def save_ledger(self, expr: ir.Table, name: str) -> int:
        """Materialise ``expr`` as the ledger ``name``; returns its row count."""
        if self.engine == "postgres":
            table = _ledger_table_name(name)
            self.ibis.create_table(table, expr, overwrite=True)
            return int(self.ibis.table(table).count().execute())
        if self.engine == "spark":
            from cxloop.services.spark import save_parquet

            return save_parquet(self, expr, name)
        import os

        import pyarrow.parquet as pq

        self.ledger_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.ledger_dir / f".tmp-{name}"
        self.ibis.to_parquet(expr, tmp)
        os.replace(tmp, self.ledger_dir / name)
        return int(pq.read_metadata(self.ledger_dir / name).num_rows)

    def ledger_table(self, name: str) -> ir.Table:
        """A built ledger as an Ibis table."""
        if self.engine == "postgres":
            return self.ibis.table(_ledger_table_name(name))
        if self.engine == "spark":
            from cxloop.services.spark import parquet_view

            return parquet_view(self, name)
        return self.ledger_file(self.ledger_dir / name)

    def drop_ledgers(self, keep: set[str]) -> None:
        """Remove built ledgers but those in ``keep`` (a reader may still use the previous)."""
        if self.engine == "postgres":
            wanted = {_ledger_table_name(k) for k in keep}
            for table in self.ibis.list_tables(like="cx_ledger_"):
                if table not in wanted:
                    self.ibis.drop_table(table, force=True)
            return
        if self.engine == "spark":
            from cxloop.services.spark import drop_outputs

            drop_outputs(self, keep)
            return
        for path in self.ledger_dir.glob("promises-*.parquet"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def ledger_file(self, path: Path) -> ir.Table:
        """A built ledger file as an Ibis table (one view per file, reused)."""
        source = "read_parquet('" + str(path).replace("'", "''") + "')"
        return self._view(
            "cx_ledger_" + "".join(c if c.isalnum() else "_" for c in path.stem), source
        )

    def _view(self, name: str, source: str) -> ir.Table:
        if name not in self._views:
            self.duck.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {source}")
            self._views.add(name)
        return self.ibis.table(name)

    def close(self) -> None:
        if "duck" in self.__dict__:
            self.duck.close()
            del self.__dict__["duck"]
            self._views.clear()
        backend = self.__dict__.pop("ibis", None)
        if self.engine == "postgres" and backend is not None:
            backend.disconnect()


def latest_source_time(events: ir.Table) -> datetime | None:
    """The time of the latest event not written by cxloop itself (None for none)."""
    mine = events.filter(~events.event_id.startswith(INTERNAL_PREFIX))
    value = mine.ts.max().execute()
    if value is None or value != value:  # no rows (None or NaT)
        return None
    found: datetime = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return found.replace(tzinfo=None)


def _ledger_table_name(name: str) -> str:
    stem = name.removesuffix(".parquet")
    return "cx_ledger_" + "".join(c if c.isalnum() else "_" for c in stem)


def connect_postgres(url: str) -> SQLBackend:
    """An Ibis backend on a PostgreSQL store, in UTC."""
    try:
        backend: SQLBackend = ibis.connect(url)
    except Exception as exc:  # psycopg's OperationalError, wrapped
        raise ConfigError(f"cannot connect to the PostgreSQL store: {exc}".strip()) from None
    # Ibis fetches results through a server-side cursor: PostgreSQL then plans without
    # parallel workers and for the first 10% of rows, and where it underestimates a join of
    # correlated keys (customer_id and ref) as one row it picks a nested loop that runs
    # minutes (28 s instead of 1.1 s for one detector at 1 M events). The analytics read
    # whole results of scans and joins over the log: plan for all rows, without nested loops
    # JIT off: the ledger's one wide query spent 11.3 s of 23 s compiling 335 functions
    # (build_ledger at 1 M events: 24.3 s with JIT, 12.6 s without).
    # (this connection only; the operational state's connections keep the defaults).
    backend.raw_sql(
        "SET TIME ZONE 'UTC'; SET cursor_tuple_fraction = 1.0; SET enable_nestloop = off; "
        "SET jit = off"
    ).close()
    return backend
