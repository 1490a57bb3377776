"""The embedded engine (``engine = "duckdb"``): DuckDB in process over the Parquet log;
derived tables (the ledger) are Parquet files under ``HOME/ledger``."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq
from ibis.backends.sql import SQLBackend

from cxloop.engines.base import EngineContext
from cxloop.store import pointindex
from cxloop.store.eventlog import EventLog

#: the order of the ledger's customer-sorted copy (point reads of one customer's promises)
LEDGER_COPY_ORDER = "customer_id, opened_at, promise_id"


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.ledger_dir = ctx.home / "ledger"
        self._views: set[str] = set()

    @cached_property
    def backend(self) -> SQLBackend:
        backend: SQLBackend = ibis.duckdb.from_connection(self.ctx.duck())
        return backend

    def events(self, manifest: dict[str, Any]) -> ir.Table:
        """A snapshot of the segments ``manifest`` lists: a view named by the log version, so
        expressions over it stay short (Ibis inlines a SQL source into every use) and a later
        append does not change what an open expression reads."""
        assert isinstance(self.ctx.log, EventLog)
        source = self.ctx.log.relation_sql(manifest)
        return self.view(f"cx_events_v{int(manifest['version'])}", source)

    def cache(self, expr: ir.Table) -> ir.Table:
        return expr.cache()

    def save(self, expr: ir.Table, name: str) -> int:
        self.ledger_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.ledger_dir / f".tmp-{name}"
        self.backend.to_parquet(expr, tmp)
        os.replace(tmp, self.ledger_dir / name)
        if {"customer_id", "opened_at", "promise_id"} <= set(expr.columns):
            path = self.ledger_dir / name
            columns = list(expr.columns)
            pointindex.write_copy(self.ctx.duck(), path, columns, LEDGER_COPY_ORDER)
        return int(pq.read_metadata(self.ledger_dir / name).num_rows)

    def saved(self, name: str) -> ir.Table:
        return self.parquet_file(self.ledger_dir / name)

    def parquet_file(self, path: Path) -> ir.Table:
        """A Parquet file as an Ibis table (one view per file, reused)."""
        source = "read_parquet('" + str(path).replace("'", "''") + "')"
        return self.view(
            "cx_ledger_" + "".join(c if c.isalnum() else "_" for c in path.stem), source
        )

    def drop_saved(self, keep: set[str]) -> None:
        for path in self.ledger_dir.glob("promises-*.parquet"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
        pointindex.forget_others(self.ledger_dir, keep)

    def refuse_writes(self, what: str) -> None:
        return None

    def view(self, name: str, source: str) -> ir.Table:
        if name not in self._views:
            self.ctx.duck().execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {source}")
            self._views.add(name)
        return self.backend.table(name)

    def forget_views(self) -> None:
        """The DuckDB connection was closed: its temp views went with it."""
        self._views.clear()
        self.__dict__.pop("backend", None)

    def close(self) -> None:
        self.forget_views()
