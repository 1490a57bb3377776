"""One append to PostgreSQL's event log: binary ``COPY`` from Arrow, then set-based checks.

The staged rows leave DuckDB as Arrow record batches of :data:`BATCH_ROWS` rows (a stream:
the file is never held in Python), are encoded as PostgreSQL's binary ``COPY`` format by a
worker thread (:mod:`cxloop.store.pgcopy`) while the previous batch travels, and land in
a temporary table ``_incoming``. Then, in the same transaction and under the appenders'
advisory lock:

* ``_known``: incoming rows whose id is already in the log (a duplicate when the content
  hash is equal, else a conflict);
* ``_repeats``: ids new to the log but repeated in the batch, each copy numbered by file
  and row (the first is appended; a later one is a duplicate or a conflict), and known by
  its place in ``_incoming`` (``ctid``: two copies may share a file and row);
* the other rows go into ``cx_events`` with one ``INSERT ... SELECT``. When the batch is at
  least as large as the log (a first load, a bulk backfill), the log's indexes are dropped
  first and built again after the insert (a sorted build is several times cheaper than
  row-by-row upkeep); the transaction then holds the table's exclusive lock, so readers
  of ``cx_events`` wait for the commit instead of reading the previous version.

Nothing is visible before the commit; a crash at any point rolls all of it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cxloop.domain.events import LOG_COLUMNS
from cxloop.errors import StoreError
from cxloop.store import pgcopy, sameevent
from cxloop.store.ahead import ahead

if TYPE_CHECKING:  # psycopg is imported where a PostgreSQL store is used, not by every process
    import psycopg

#: rows per Arrow batch (and per binary COPY message): bounds the appender's memory
BATCH_ROWS = 65_536
_QUEUE = 2  # encoded batches waiting for the socket
#: ``maintenance_work_mem`` (bytes) an ingest's index builds get at least (``SET LOCAL``)
INDEX_BUILD_MEMORY = 256 << 20


def encoded(reader: pa.RecordBatchReader) -> Iterator[pa.Buffer]:
    """The batches of ``reader`` in binary COPY format, encoded on a worker thread (at
    most :data:`_QUEUE` waiting), so encoding overlaps the transfer."""
    dtypes = [c.dtype for c in LOG_COLUMNS]
    return ahead((pgcopy.encode(batch, dtypes) for batch in reader), _QUEUE, "cxloop-pgcopy")


def copy_in(pg: psycopg.Connection[Any], table: str, reader: pa.RecordBatchReader) -> int:
    """Stream ``reader`` (the log's columns, in order) into ``table`` with binary COPY;
    how many rows."""
    cols = ", ".join(c.name for c in LOG_COLUMNS)
    cursor = pg.cursor()
    with cursor.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(pgcopy.HEADER)
        for block in encoded(reader):
            copy.write(memoryview(block))
        copy.write(pgcopy.TRAILER)
    if cursor.rowcount >= 0:
        return int(cursor.rowcount)
    row = pg.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Outcome:
    new: int  # rows appended
    duplicates: int  # in the log or earlier in the batch with the same content
    #: (file, row, event_id, log_ingest, first_file, first_row): other content
    conflicts: list[tuple[Any, ...]]
    #: per (file, row, event_id) of a conflict, the content columns that differ
    differs: dict[tuple[str, int, str], list[str]]


def run(pg: psycopg.Connection[Any], reader: pa.RecordBatchReader) -> Outcome:
    """Append ``reader``'s rows to the log (hold the appenders' lock). Into an empty log
    the rows are copied straight into ``cx_events`` with its indexes dropped; else into
    ``_incoming`` first. Repeated ids are looked for only when the primary key says
    there are some (the first try assumes none, inside a savepoint)."""
    from psycopg.errors import UniqueViolation

    direct = log_is_empty(pg)
    dropped: list[tuple[str, str, bool]] = []
    if direct:
        table, dropped = "cx_events", drop_indexes(pg)
    else:
        table = "_incoming"
        pg.execute("CREATE TEMP TABLE _incoming (LIKE cx_events) ON COMMIT DROP")
    copied = copy_in(pg, table, reader)
    known(pg, table, empty=direct)
    repeats(pg, table, empty=True)
    appended: int | None = None
    try:
        with pg.transaction():  # a savepoint
            appended = _finish(pg, direct, copied, dropped)
    except UniqueViolation:
        repeats(pg, table)
    found = conflicts(pg)
    new, duplicates = counts(pg, copied)
    pairs = same_pairs(pg, table, sameevent.select_pair) if found else []
    differs = sameevent.differences(pairs)
    same = {key for key, names in differs.items() if not names}
    if appended is None:
        appended = _finish(pg, direct, copied, dropped)
    if appended != new:
        raise StoreError(f"appended {appended} events for {new} new ones; rolled back")
    kept = [c for c in found if (c[0], int(c[1]), c[2]) not in same]
    return Outcome(new, duplicates + len(found) - len(kept), kept, differs)


def _finish(
    pg: psycopg.Connection[Any], direct: bool, copied: int, dropped: list[tuple[str, str, bool]]
) -> int:
    """Keep the new rows in ``cx_events`` and (re)build its indexes; how many rows."""
    if direct:
        appended = copied - drop_repeats(pg)
        build_indexes(pg, dropped)
        return appended
    row = pg.execute("SELECT count(*) FROM _known").fetchone()
    rebuild = drop_indexes(pg) if worth_rebuilding(pg, copied - int(row[0] if row else 0)) else []
    appended = move(pg)
    build_indexes(pg, rebuild)
    return appended


def log_is_empty(pg: psycopg.Connection[Any]) -> bool:
    row = pg.execute("SELECT NOT EXISTS (SELECT 1 FROM cx_events)").fetchone()
    return bool(row and row[0])


def known(pg: psycopg.Connection[Any], table: str, empty: bool = False) -> None:
    """``_known``: the rows of ``table`` whose id is already in the log (none when
    ``empty``: the batch was copied into the empty log itself)."""
    pg.execute(f"""
        CREATE TEMP TABLE _known ON COMMIT DROP AS
        SELECT i.source_file, i.source_row, i.event_id, i.content_hash,
               e.content_hash AS _log_hash, e.ingest_id AS _log_ingest
        FROM {table} i JOIN cx_events e ON e.event_id = i.event_id
        WHERE {"false" if empty else "true"}
    """)


def repeats(pg: psycopg.Connection[Any], table: str, empty: bool = False) -> None:
    """``_repeats``: the copies of ids new to the log that the batch holds more than once
    (``empty``: the table with the right columns, no rows: the optimistic first try)."""
    pg.execute("DROP TABLE IF EXISTS _repeats")
    pg.execute(f"""
        CREATE TEMP TABLE _repeats ON COMMIT DROP AS
        SELECT _at, source_file, source_row, event_id, content_hash, _k, _first,
               _first_file, _first_row FROM (
          SELECT ctid AS _at, source_file, source_row, event_id, content_hash,
                 row_number() OVER w AS _k, first_value(content_hash) OVER w AS _first,
                 first_value(source_file) OVER w AS _first_file,
                 first_value(source_row) OVER w AS _first_row
          FROM {table} t
          WHERE {"false AND" if empty else ""} event_id IN (
                SELECT event_id FROM {table} GROUP BY event_id HAVING count(*) > 1)
            AND NOT EXISTS (SELECT 1 FROM _known k WHERE k.event_id = t.event_id)
          WINDOW w AS (PARTITION BY event_id ORDER BY source_file, source_row, ctid)) r
    """)


def conflicts(pg: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """(file, row, event_id, ingest that loaded the logged copy or None, the batch's first
    copy's file and row or None) of every copy whose content hash differs from the logged
    one, or from the batch's first copy."""
    return pg.execute("""
        SELECT source_file, source_row, event_id, _log_ingest, NULL, NULL FROM _known
        WHERE _log_hash <> content_hash
        UNION ALL
        SELECT source_file, source_row, event_id, NULL, _first_file, _first_row FROM _repeats
        WHERE _k > 1 AND content_hash <> _first
        ORDER BY 1, 2
    """).fetchall()


def counts(pg: psycopg.Connection[Any], copied: int) -> tuple[int, int]:
    """(rows to append, duplicates by hash) of a batch of ``copied`` rows."""
    row = pg.execute("""
        SELECT (SELECT count(*) FROM _known) + (SELECT count(*) FROM _repeats WHERE _k > 1),
               (SELECT count(*) FROM _known WHERE _log_hash = content_hash)
               + (SELECT count(*) FROM _repeats WHERE _k > 1 AND content_hash = _first)
    """).fetchone()
    return (copied - int(row[0]), int(row[1])) if row else (copied, 0)


def same_pairs(pg: psycopg.Connection[Any], table: str, select_pair: Any) -> list[Any]:
    """For :mod:`cxloop.store.sameevent`: each hash mismatch beside the row it differs from
    (the logged copy, or the batch's first copy)."""
    return pg.execute(f"""
        SELECT {select_pair("i", "e")} FROM _known k
        JOIN {table} i ON i.event_id = k.event_id AND i.source_file = k.source_file
             AND i.source_row = k.source_row
        JOIN cx_events e ON e.event_id = k.event_id
        WHERE k._log_hash <> k.content_hash
        UNION ALL
        SELECT {select_pair("i", "f")} FROM _repeats r
        JOIN {table} i ON i.ctid = r._at
        JOIN _repeats r1 ON r1.event_id = r.event_id AND r1._k = 1
        JOIN {table} f ON f.ctid = r1._at
        WHERE r._k > 1 AND r.content_hash <> r._first
    """).fetchall()


def drop_indexes(pg: psycopg.Connection[Any]) -> list[tuple[str, str, bool]]:
    """Drop every index of ``cx_events`` (primary key included); what was dropped:
    (name, definition, is a constraint)."""
    rows = pg.execute("""
        SELECT i.relname, coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.oid)),
               c.oid IS NOT NULL
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
        WHERE x.indrelid = 'cx_events'::regclass ORDER BY c.oid IS NULL, i.relname
    """).fetchall()
    dropped = [(str(n), str(d), bool(c)) for n, d, c in rows]
    for name, _definition, constraint in dropped:
        if constraint:
            pg.execute(f'ALTER TABLE cx_events DROP CONSTRAINT "{name}"')
        else:
            pg.execute(f'DROP INDEX "{name}"')
    return dropped


def build_indexes(pg: psycopg.Connection[Any], dropped: list[tuple[str, str, bool]]) -> None:
    """Build again what :func:`drop_indexes` dropped (the primary key first: it is the
    check that no id was appended twice), with at least :data:`INDEX_BUILD_MEMORY` of
    ``maintenance_work_mem`` for this transaction (PostgreSQL's 64 MB default leaves one
    parallel worker of a build at most: each needs 32 MB)."""
    if dropped:
        row = pg.execute(
            "SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'"
        ).fetchone()
        if row is None or int(row[0]) < INDEX_BUILD_MEMORY:
            pg.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY >> 20}MB'")
    for name, definition, constraint in dropped:
        if constraint:
            pg.execute(f'ALTER TABLE cx_events ADD CONSTRAINT "{name}" {definition}')
        else:
            pg.execute(definition)


def worth_rebuilding(pg: psycopg.Connection[Any], rows: int) -> bool:
    """Whether a batch of ``rows`` is at least as large as the log (the planner's
    estimate; counted when the table was never analysed)."""
    row = pg.execute("SELECT reltuples FROM pg_class WHERE oid = 'cx_events'::regclass").fetchone()
    estimate = float(row[0]) if row else -1.0
    if estimate < 0:
        counted = pg.execute("SELECT count(*) FROM cx_events").fetchone()
        estimate = float(counted[0]) if counted else 0.0
    return rows >= max(estimate, 1.0)


def move(pg: psycopg.Connection[Any]) -> int:
    """Insert the rows of ``_incoming`` that are new to the log; how many."""
    cols = ", ".join(c.name for c in LOG_COLUMNS)
    return int(
        pg.execute(f"""
        INSERT INTO cx_events ({cols}) SELECT {cols} FROM _incoming i
        WHERE NOT EXISTS (SELECT 1 FROM _known k WHERE k.event_id = i.event_id)
          AND i.ctid NOT IN (SELECT _at FROM _repeats WHERE _k > 1)
    """).rowcount
    )


def drop_repeats(pg: psycopg.Connection[Any]) -> int:
    """Delete the later copies of repeated ids from the log (the batch was copied into the
    empty log itself); how many."""
    return int(
        pg.execute(
            "DELETE FROM cx_events WHERE ctid IN (SELECT _at FROM _repeats WHERE _k > 1)"
        ).rowcount
    )
