"""Point reads: one customer's events or promises, answered from the embedded store's
customer-sorted copies (:mod:`cxloop.store.pointindex`) without compiling an Ibis
expression or scanning the log; the same DataFrame the Ibis expression gives.

On PostgreSQL and Spark these return None and the callers run the Ibis expression
(PostgreSQL answers it from its indexes on ``customer_id``)."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.types as pat
from ibis.backends.duckdb.converter import DuckDBPandasData

from cxloop.engines.duckdb import LEDGER_COPY_ORDER
from cxloop.engines.postgres import saved_table_name
from cxloop.store import pointindex
from cxloop.store.eventlog import EventLog
from cxloop.store.files import read_json
from cxloop.workspace.workspace import Workspace

#: the order of a timeline, and of a customer's promises (as the Ibis expressions sort)
EVENT_SORT = [("ts", "ascending"), ("event_id", "ascending")]
PROMISE_SORT = [("opened_at", "ascending"), ("promise_id", "ascending")]


def frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas exactly as Ibis's DuckDB backend converts a result."""
    df = pd.DataFrame(
        {
            name: (
                col.to_pylist()
                if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
                else col.to_pandas()
            )
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    return DuckDBPandasData.convert_table(df, ibis.Schema.from_pyarrow(table.schema))


def embedded(ws: Workspace) -> bool:
    """Whether point reads can use the copies (the embedded store on its own engine)."""
    return ws.engine == "duckdb" and isinstance(ws.log, EventLog)


def customer_events(ws: Workspace, customer_id: str, columns: list[str]) -> pd.DataFrame | None:
    """The customer's events (``columns``), in time order; None where neither embedded nor
    PostgreSQL (Spark)."""
    if ws.engine == "postgres":
        cols = ", ".join(columns)
        sql = f"SELECT {cols} FROM cx_events WHERE customer_id = %s ORDER BY ts, event_id"
        return _pg_frame(ws, "cx_events", sql, customer_id, columns)
    table = customer_events_arrow(ws, customer_id)
    return None if table is None else frame(table.sort_by(EVENT_SORT).select(columns))


def customer_events_arrow(ws: Workspace, customer_id: str) -> pa.Table | None:
    """The customer's events on the embedded store (every column of the copies, in no
    order), or None (not embedded, or no segments yet)."""
    files = _segments(ws)
    if not files:
        return None
    return pointindex.read_key(ws.duck, files, pointindex.EVENT_COLUMNS, customer_id)


def customer_events_small(ws: Workspace, customer_id: str, max_groups: int) -> pa.Table | None:
    """:func:`customer_events_arrow` when it is a read of at most ``max_groups`` row groups
    of the copies (see :func:`pointindex.read_key_small`); None otherwise."""
    files = _segments(ws)
    if not files:
        return None
    return pointindex.read_key_small(files, pointindex.EVENT_COLUMNS, customer_id, max_groups)


def _segments(ws: Workspace) -> list[Path]:
    """The log's segment files where point reads can use their copies (none elsewhere)."""
    if not embedded(ws):
        return []
    assert isinstance(ws.log, EventLog)
    return list(ws.log.segment_paths())


def customer_promises(ws: Workspace, ledger_file: Path, customer_id: str) -> pd.DataFrame:
    """The customer's promises in ledger ``ledger_file``, oldest first."""
    if ws.engine == "postgres":
        name = saved_table_name(ledger_file.name)
        sql = f'SELECT * FROM "{name}" WHERE customer_id = %s ORDER BY opened_at, promise_id'
        return _pg_frame(ws, name, sql, customer_id, None)
    table = pointindex.read_key(ws.duck, [ledger_file], None, customer_id)
    return frame(table.sort_by(PROMISE_SORT))


def index_store(ws: Workspace) -> dict[str, int]:
    """Write the customer-sorted copies a store lacks (one written by an earlier version):
    of the log's segments and of the current ledger. Under the write lock."""
    if not embedded(ws):
        return {"segments": 0, "ledger": 0}
    with ws.write_lock():
        written = pointindex.refresh(ws.log, ws.duck)
        ledger = _ledger_file(ws)
        copied = 0
        if ledger is not None and not pointindex.copy_path(ledger).exists():
            columns = pq.read_schema(ledger).names
            pointindex.write_copy(ws.duck, ledger, columns, LEDGER_COPY_ORDER)
            copied = 1
    return {"segments": len(written), "ledger": copied}


def _ledger_file(ws: Workspace) -> Path | None:
    name = read_json(ws.ledger_dir / "manifest.json", {}).get("file")
    path = ws.ledger_dir / str(name) if name else None
    return path if path is not None and path.exists() else None


_PG_SCHEMAS: dict[tuple[str, str], ibis.Schema] = {}


def _pg_frame(
    ws: Workspace, table: str, sql: str, key: str, columns: list[str] | None
) -> pd.DataFrame:
    """One parametrised query on the Ibis backend's own PostgreSQL connection (its session
    settings), converted as Ibis converts a result of ``table``'s columns: no expression
    compiled, no schema looked up (cached per database and table)."""
    # imported here: Ibis's PostgreSQL backend imports psycopg, which a DuckDB store never needs
    from ibis.backends.postgres.converter import PostgresPandasData

    backend = ws.ibis
    found = _PG_SCHEMAS.get((str(ws.settings.database_url), table))
    if found is None:
        t = ws.events() if table == "cx_events" else backend.table(table)
        found = _PG_SCHEMAS[(str(ws.settings.database_url), table)] = t.schema()
    schema = found if columns is None else ibis.schema({c: found[c] for c in columns})
    con = backend.con
    with con.cursor() as cur, con.transaction():
        rows = cur.execute(sql, (key,)).fetchall()
    df = pd.DataFrame.from_records(rows, columns=schema.names, coerce_float=True)
    return PostgresPandasData.convert_table(df, schema)
