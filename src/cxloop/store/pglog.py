"""The event log in PostgreSQL: table ``cx_events`` and its version in ``cx_log``.

The same contract as the Parquet :class:`~cxloop.store.eventlog.EventLog`: appends are
idempotent by ``event_id`` (a repeat with the same ``content_hash`` is a duplicate, one
with another hash a conflict returned for quarantine), every append that adds events
raises the version by one, and readers see whole appends only (one transaction each).

Ingest still reads, maps and validates files in an in-process DuckDB (the staging
engine); the staged rows stream to PostgreSQL as Arrow batches in binary ``COPY`` format
into a temporary table, and the deduplication runs in PostgreSQL
(:mod:`cxloop.store.pgappend`). Concurrent appends from
several hosts take turns on a transaction-level advisory lock. The tables are created by
the migrations (``cxloop migrate``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from cxloop.domain.events import LOG_COLUMNS
from cxloop.errors import StoreError
from cxloop.store import crash, db, pgappend
from cxloop.store.eventlog import LOG_COLUMN_NAMES, AppendResult, BeforeCommit

if TYPE_CHECKING:  # psycopg is imported where a PostgreSQL store is used, not by every process
    import psycopg

APPEND_LOCK = 0x63786C6F67  # pg_advisory_xact_lock key shared by every cxloop appender
_DUCK_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float64": "DOUBLE",
    "int64": "BIGINT",
}


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class PgEventLog:
    """The event log of a PostgreSQL store (``database_url``)."""

    backend = "postgres"

    def __init__(self, url: str, scratch: Path) -> None:
        self.url = url
        self.scratch = scratch  # where the log is staged for DuckDB (the store's tmp/)

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in one transaction (committed when the block ends)."""
        with db.connect(self.url) as con:
            yield con.raw

    def manifest(self) -> dict[str, Any]:
        return {"version": self.version, "segments": [], "backend": self.backend}

    @property
    def version(self) -> int:
        with self.connect() as con:
            row = con.execute("SELECT version FROM cx_log WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def rows(self) -> int:
        with self.connect() as con:
            row = con.execute("SELECT count(*) FROM cx_events").fetchone()
        return int(row[0]) if row else 0

    def needs_compaction(self, limit: int) -> bool:
        """PostgreSQL keeps one table: there are no segments to merge."""
        return False

    def append(
        self,
        con: duckdb.DuckDBPyConnection,
        staged: str,
        ingest_id: str,
        before_commit: BeforeCommit | None = None,
    ) -> AppendResult:
        """Append the rows of DuckDB relation ``staged`` (log columns); idempotent by id
        (``attrs`` compared as JSON). The rows stream to PostgreSQL as binary COPY in
        batches (:mod:`cxloop.store.pgappend`); ``before_commit`` runs inside the
        transaction, just before it commits."""
        cols = ", ".join(LOG_COLUMN_NAMES)
        reader = con.execute(
            f"SELECT {cols} FROM (SELECT * REPLACE ('{ingest_id}' AS ingest_id) FROM {staged})"
        ).fetch_record_batch(pgappend.BATCH_ROWS)
        with self.connect() as pg:
            pg.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            outcome = pgappend.run(pg, reader)
            version_row = pg.execute(
                "SELECT version FROM cx_log WHERE id = 1 FOR UPDATE"
            ).fetchone()
            if version_row is None:
                raise StoreError("the PostgreSQL store has no cx_log row: run `cxloop migrate`")
            version = int(version_row[0]) + (1 if outcome.new else 0)
            if outcome.new:
                pg.execute("UPDATE cx_log SET version = %s WHERE id = 1", (version,))
            result = AppendResult(
                new=outcome.new,
                duplicates=outcome.duplicates,
                conflicts=[
                    {"file": f, "row": int(r), "event_id": eid, "log_ingest": li}
                    | {"differs": outcome.differs.get((f, int(r), eid), [])}
                    | ({} if ff is None else {"first_file": ff, "first_row": int(fr)})
                    for f, r, eid, li, ff, fr in outcome.conflicts
                ],
                segment=None,
                version=version,
            )
            if before_commit is not None:
                before_commit(result)
        crash.point("log-committed")
        return result

    def committed(self, ingest_id: str) -> bool:
        """Whether run ``ingest_id`` added events to the log (its transaction committed)."""
        with self.connect() as pg:
            row = pg.execute(
                "SELECT 1 FROM cx_events WHERE ingest_id = %s LIMIT 1", (ingest_id,)
            ).fetchone()
        return row is not None

    def clean_temp(self) -> list[str]:
        """Delete CSV files a killed appender of an earlier version left in the scratch
        folder (under the lock)."""
        if not self.scratch.exists():
            return []
        gone = []
        for tmp in self.scratch.glob("append-*.csv"):
            tmp.unlink(missing_ok=True)
            gone.append(tmp.name)
        return gone

    def compact(self, con: duckdb.DuckDBPyConnection, stamp: str) -> dict[str, Any]:
        """There are no segments; refreshes the planner's statistics (``ANALYZE``)."""
        with self.connect() as pg:
            pg.execute("ANALYZE cx_events")
            row = pg.execute("SELECT count(*) FROM cx_events").fetchone()
        rows = int(row[0]) if row else 0
        return {"segments_before": 0, "segments_after": 0, "rows": rows}

    def relation(
        self, con: duckdb.DuckDBPyConnection, manifest: dict[str, Any] | None = None
    ) -> str:
        """The whole log copied into a DuckDB temp table (for export and checks); its name."""
        name = "_pg_log"
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="log-", suffix=".csv", dir=self.scratch)
        os.close(fd)
        csv = Path(tmp)
        cols = ", ".join(LOG_COLUMN_NAMES)
        try:
            with self.connect() as pg, csv.open("wb") as fh:
                cur = pg.cursor()
                with cur.copy(f"COPY (SELECT {cols} FROM cx_events) TO STDOUT (FORMAT csv)") as cp:
                    for block in cp:
                        fh.write(block)
            types = ", ".join(f"'{c.name}': '{_DUCK_TYPES[c.dtype]}'" for c in LOG_COLUMNS)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_csv({_quote(csv)}, "
                f"header = false, columns = {{{types}}}, quote = '\"', escape = '\"', "
                "nullstr = '', allow_quoted_nulls = false)"
            )
        finally:
            csv.unlink(missing_ok=True)
        return name
