"""What an engine is: where the analytics' Ibis expressions run, and where the derived
tables they save (the promise ledger) live.

An engine is one module with one class implementing :class:`Engine`, registered in
:data:`cxloop.engines.ENGINES`; the contract suite (``tests/test_backends.py``) runs every
report on every registered engine against the embedded answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

from cxloop.settings import Settings
from cxloop.store.logbase import EventStore


@dataclass(frozen=True)
class EngineContext:
    """What an engine may use of its workspace: the settings, the store's directory, its
    event log, and the workspace's own in-process DuckDB (opened on first use)."""

    settings: Settings
    home: Path
    log: EventStore
    duck: Callable[[], duckdb.DuckDBPyConnection]


class Engine(Protocol):
    """One engine behind :class:`~cxloop.workspace.workspace.Workspace`."""

    name: str

    @property
    def backend(self) -> SQLBackend:
        """The Ibis backend the analytics run on (connected on first use)."""
        ...

    def events(self, manifest: dict[str, Any]) -> ir.Table:
        """The event log as of ``manifest`` (a snapshot where the engine can give one)."""
        ...

    def cache(self, expr: ir.Table) -> ir.Table:
        """``expr`` materialised once on the engine (release it with ``.release()``)."""
        ...

    def save(self, expr: ir.Table, name: str) -> int:
        """Materialise ``expr`` as the derived table ``name``; its row count."""
        ...

    def saved(self, name: str) -> ir.Table:
        """A derived table saved earlier."""
        ...

    def drop_saved(self, keep: set[str]) -> None:
        """Remove saved ledgers but those in ``keep``."""
        ...

    def refuse_writes(self, what: str) -> None:
        """Raise :class:`~cxloop.errors.Unsupported` where the engine reads a log that
        cxloop does not write (``what``: the write refused)."""
        ...

    def close(self) -> None: ...
