"""The workspace: one embedded store on disk, and the engine that reads it.

::

    HOME/
      events/manifest.json, seg-*.parquet   the event log (append-only)
      ledger/manifest.json, *.parquet       the promise ledger (derived, rebuildable)
      state.sqlite                          operational state (WAL): ingest runs, quarantine
      .lock                                 the writers' lock

Many processes may open the same HOME at once: readers never wait, writers take
turns on the lock. Nothing is opened at import time.
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from cxloop.domain.promises import RuleSet, ruleset_from_dict
from cxloop.errors import ConfigError
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog
from cxloop.store.lock import WriteLock
from cxloop.store.state import StateDB


def load_rules(path: Path | None) -> RuleSet:
    """The promise rules from a TOML file, or the built-in defaults."""
    try:
        if path is None:
            text = resources.files("cxloop.rules").joinpath("default.toml").read_text()
            where = "built-in default rules"
        else:
            text = path.read_text()
            where = str(path)
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: rules file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
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

    @classmethod
    def open(cls, home: str | Path | None = None, **settings: object) -> Workspace:
        return cls(Settings.from_env(None, home=home, **settings))

    @cached_property
    def rules(self) -> RuleSet:
        return load_rules(self.settings.rules)

    @cached_property
    def duck(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        return con

    @cached_property
    def ibis(self) -> DuckDBBackend:
        backend: DuckDBBackend = ibis.duckdb.from_connection(self.duck)
        return backend

    def write_lock(self) -> WriteLock:
        return WriteLock(self.home / ".lock", self.settings.lock_timeout)

    def events(self) -> ir.Table:
        """The event log as an Ibis table (a snapshot of the current segments)."""
        return self.ibis.sql(f"SELECT * FROM {self.log.relation_sql()}")

    def close(self) -> None:
        if "duck" in self.__dict__:
            self.duck.close()
            del self.__dict__["duck"]
            self.__dict__.pop("ibis", None)
