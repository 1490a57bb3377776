"""The workspace: one embedded store on disk, and the engine that reads it.

::

    HOME/
      events/manifest.json, seg-*.parquet   the event log (append-only)
      ledger/manifest.json, *.parquet       the promise ledger (derived, rebuildable)
      state.sqlite                          operational state (WAL): ingest runs, quarantine
      tmp/                                  where DuckDB spills when data outgrows memory
      .lock                                 the writers' lock

Many processes may open the same HOME at once: readers never wait, writers take
turns on the lock. Nothing is opened at import time.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from cxloop.domain.promises import RuleSet, ruleset_from_dict
from cxloop.errors import ConfigError
from cxloop.services.config import read_toml
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog
from cxloop.store.lock import WriteLock
from cxloop.store.state import StateDB

# the engine functions the analytics call (cxloop.analytics.attrs)
DUCKDB_FUNCTIONS = """
CREATE OR REPLACE TEMP MACRO cx_attr(a, k) AS json_extract_string(a, '$."' || k || '"');
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
        self.log = EventLog(self.home / "events")
        self.ledger_dir = self.home / "ledger"
        self.state = StateDB(self.home / "state.sqlite")
        self._views: set[str] = set()

    @classmethod
    def open(cls, home: str | Path | None = None, **settings: object) -> Workspace:
        return cls(Settings.from_env(None, home=home, **settings))

    @cached_property
    def rules(self) -> RuleSet:
        return load_rules(self.settings.rules)

    @cached_property
    def duck(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        self.configure(con)
        return con

    def configure(self, con: duckdb.DuckDBPyConnection) -> None:
        """Session settings for every DuckDB connection cxloop opens on this store: UTC,
        no progress bars on stdout, spilling (when data outgrows memory) into the store's
        own tmp/ rather than the working directory, and the functions the analytics call."""
        spill = str(self.home.resolve() / "tmp").replace("'", "''")
        con.execute(
            f"SET TimeZone = 'UTC'; SET enable_progress_bar = false; SET temp_directory = '{spill}'"
        )
        con.execute(DUCKDB_FUNCTIONS)

    @cached_property
    def ibis(self) -> DuckDBBackend:
        backend: DuckDBBackend = ibis.duckdb.from_connection(self.duck)
        return backend

    def write_lock(self) -> WriteLock:
        return WriteLock(self.home / ".lock", self.settings.lock_timeout)

    def events(self, manifest: dict[str, Any] | None = None) -> ir.Table:
        """The event log as an Ibis table: a snapshot of the segments the manifest lists.

        The snapshot is a DuckDB view named by the log version, so expressions over it stay
        short (Ibis inlines a SQL source into every use) and a later append does not change
        what an open expression reads.
        """
        m = self.log.manifest() if manifest is None else manifest
        return self._view(f"cx_events_v{int(m['version'])}", self.log.relation_sql(m))

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
            self.__dict__.pop("ibis", None)
