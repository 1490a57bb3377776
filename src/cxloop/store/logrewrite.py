"""Taking rows out of the event log (a retracted ingest run, an erased person).

The log is append-only for ingest; a correction is the one other writer. On the embedded
store it rewrites only the segments that hold matching rows, each as a new segment file
without them (in :data:`~cxloop.store.eventlog.SEGMENT_ORDER`), and swaps them in with one
atomic manifest write that raises the version: readers never wait and see the log before or
after, never half; every cache keyed by the log version (the ledger, the API's reports, the
voice artifacts) moves on. The replaced files are retired like compaction's (kept for
readers still on the old manifest) or, with ``purge``, deleted at once together with every
retired file (an erasure must not leave the rows on disk). Call under the write lock.

On PostgreSQL the rows are deleted from ``cx_events`` and ``cx_log``'s version raised in one
transaction, under the appenders' advisory lock.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from cxloop.errors import StoreError, Unsupported
from cxloop.store import pointindex
from cxloop.store.eventlog import LOG_COLUMN_NAMES, SEGMENT_ORDER, EventLog
from cxloop.store.files import write_json_atomic
from cxloop.store.logbase import EventStore
from cxloop.store.pglog import APPEND_LOCK, PgEventLog


@dataclass(frozen=True)
class Removal:
    """Which rows to take out: ``column = value`` (column is ``ingest_id`` or
    ``customer_id``)."""

    column: str
    value: str

    def __post_init__(self) -> None:
        if self.column not in ("ingest_id", "customer_id"):
            raise ValueError(f"cannot remove log rows by {self.column}")


@dataclass(frozen=True)
class Removed:
    rows: int  # rows taken out of the log
    version: int  # the log version after it (unchanged when nothing matched)
    segments: int  # segment files rewritten (0 on PostgreSQL)


def remove_rows(
    log: EventStore, con: duckdb.DuckDBPyConnection, what: Removal, purge: bool
) -> Removed:
    """Take the rows ``what`` names out of ``log``; see the module docstring."""
    if isinstance(log, PgEventLog):
        return _remove_pg(log, what)
    if isinstance(log, EventLog):
        removed = _remove_parquet(log, con, what, purge)
        pointindex.refresh(log, con)  # the copies of the rewritten segments (point reads)
        return removed
    raise Unsupported(f"removing rows from a {type(log).__name__} log is not implemented")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _remove_parquet(
    log: EventLog, con: duckdb.DuckDBPyConnection, what: Removal, purge: bool
) -> Removed:
    manifest = log.manifest()
    version = int(manifest["version"])
    where = f"{what.column} = {_quote(what.value)}"
    segments: list[dict[str, Any]] = []
    replaced: list[str] = []
    removed = 0
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for n, seg in enumerate(manifest["segments"]):
        path = log.root / seg["file"]
        source = f"read_parquet({_quote(str(path))})"
        (hits,) = con.execute(f"SELECT count(*) FROM {source} WHERE {where}").fetchone() or (0,)
        if not hits:
            segments.append(seg)
            continue
        removed += int(hits)
        replaced.append(seg["file"])
        kept = int(seg["rows"]) - int(hits)
        if kept:
            name = f"seg-{version + 1:06d}-fix-{stamp}-{n}.parquet"
            _write_without(con, log, source, where, name, kept)
            segments.append({**seg, "file": name, "rows": kept})
    if not removed:
        return Removed(0, version, 0)
    now = time.time()
    retired = list(manifest.get("retired", []))
    retired += [{"file": f, "at": now} for f in replaced]
    if purge:
        for r in retired:
            (log.root / r["file"]).unlink(missing_ok=True)
        retired = []
    new = {**manifest, "segments": segments, "retired": retired, "version": version + 1}
    write_json_atomic(log.manifest_path, new)
    if purge:
        for tmp in log.root.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)
    return Removed(removed, version + 1, len(replaced))


def _write_without(
    con: duckdb.DuckDBPyConnection, log: EventLog, source: str, where: str, name: str, rows: int
) -> None:
    """One segment's rows but ``where``'s, as the new segment file ``name``."""
    tmp = log.root / f".tmp-{name}"
    cols = ", ".join(LOG_COLUMN_NAMES)
    con.execute(
        f"COPY (SELECT {cols} FROM {source} WHERE NOT ({where}) ORDER BY {SEGMENT_ORDER}) "
        f"TO {_quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"
    )
    (written,) = con.execute(
        f"SELECT count(*) FROM read_parquet({_quote(str(tmp))})"
    ).fetchone() or (0,)
    if int(written) != rows:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"rewriting {source} wrote {written} rows for {rows}; nothing changed")
    os.replace(tmp, log.root / name)


def _remove_pg(log: PgEventLog, what: Removal) -> Removed:
    with log.connect() as pg:
        pg.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
        row = pg.execute("SELECT version FROM cx_log WHERE id = 1 FOR UPDATE").fetchone()
        if row is None:
            raise StoreError("the PostgreSQL store has no cx_log row: run `cxloop migrate`")
        version = int(row[0])
        deleted = pg.execute(
            f"DELETE FROM cx_events WHERE {what.column} = %s", (what.value,)
        ).rowcount
        if deleted:
            version += 1
            pg.execute("UPDATE cx_log SET version = %s WHERE id = 1", (version,))
    return Removed(int(deleted), version, 0)
