"""Use case: move an event log between stores (and, later, backends) without loss.

``export`` writes the whole log as one Parquet file (every log column, lineage included,
sorted by ``event_id``) with a manifest: the row count and a content checksum. ``import``
checks the file against its manifest and every row's ``content_hash`` against its content,
appends the events (idempotent by ``event_id``, as any ingest), and then checks that the
store now holds exactly those events with that content.

The checksum is order-independent: the XOR of MD5(``event_id`` ␟ content hash) over all
events, as 32 hex digits, where the content hash is recomputed from the row (the MD5 of
every other canonical column, as ``content_hash`` is at ingest), so a changed value
anywhere changes it.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from cxloop.domain.events import LOG_COLUMNS
from cxloop.errors import InputError, StoreError
from cxloop.ingest.staging import content_hash_sql
from cxloop.store import pointindex
from cxloop.store.files import write_json_atomic
from cxloop.store.state import Problem
from cxloop.version import __version__
from cxloop.workspace.workspace import Workspace

FORMATS = ("parquet",)
FORMAT_NAME = "cxloop-events"
FORMAT_VERSION = 1
DATA_FILE = "events.parquet"
MANIFEST = "manifest.json"
CHECKSUM_METHOD = (
    "xor of md5(event_id || chr(31) || md5 of the canonical columns as at ingest), 32 hex digits"
)
COLUMNS = [c.name for c in LOG_COLUMNS]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def checksum(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    """(rows, checksum) of a relation of log rows, from their content as it is (the hash of
    each row is recomputed, so a changed value changes the checksum)."""
    row = con.execute(
        f"SELECT count(*), bit_xor(md5_number(event_id || chr(31) || {content_hash_sql()})) "
        f"FROM {relation}"
    ).fetchone()
    n, x = (row or (0, None))[0], (row or (0, None))[1]
    return int(n), format(int(x or 0), "032x")


def _bad_hashes(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, int]]:
    """(event_id, position) of rows whose content does not hash to their content_hash.

    Also leaves ``_positions`` (each event_id's row position, in event_id order) as a
    temp table. The window runs in a ``CREATE TABLE`` (executed to completion), never in a
    streamed result: DuckDB 1.4 can spin forever fetching a streamed window result (seen
    once in CI, in ``import_log``)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _positions AS SELECT event_id, "
        "row_number() OVER (ORDER BY event_id) AS _pos, "
        f"content_hash IS DISTINCT FROM ({content_hash_sql()}) AS _bad FROM {relation}"
    )
    rows = con.execute("SELECT event_id, _pos FROM _positions WHERE _bad ORDER BY 2").fetchall()
    return [(str(e), int(p)) for e, p in rows]


def export_log(ws: Workspace, out: Path, fmt: str = "parquet") -> dict[str, Any]:
    """Write the event log to directory ``out`` (``events.parquet`` + ``manifest.json``)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (expected {', '.join(FORMATS)})")
    out.mkdir(parents=True, exist_ok=True)
    manifest = ws.log.manifest()
    con = duckdb.connect()
    started = datetime.now(UTC)
    try:
        ws.configure(con)
        source = ws.log.relation(con, manifest)
        bad = _bad_hashes(con, source)
        if bad:
            raise StoreError(
                f"{len(bad)} event(s) in the log do not match their content_hash (first: "
                f"{bad[0][0]}); the store is damaged: nothing was exported"
            )
        rows, digest = checksum(con, source)
        data = out / DATA_FILE
        tmp = out / f".tmp-{DATA_FILE}"
        con.execute(
            f"COPY (SELECT {', '.join(COLUMNS)} FROM {source} ORDER BY event_id) "
            f"TO {_sql_path(tmp)} (FORMAT parquet, COMPRESSION zstd)"
        )
        written = checksum(con, f"read_parquet({_sql_path(tmp)})")
        if written != (rows, digest):
            tmp.unlink(missing_ok=True)
            raise StoreError(f"the exported file does not read back the same: {written}")
        tmp.replace(data)
    finally:
        con.close()
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "file": DATA_FILE,
        "rows": rows,
        "checksum": digest,
        "checksum_method": CHECKSUM_METHOD,
        "columns": COLUMNS,
        "log_version": int(manifest["version"]),
        "exported_at": started.isoformat(timespec="seconds"),
        "cxloop_version": __version__,
    }
    write_json_atomic(out / MANIFEST, doc)
    seconds = (datetime.now(UTC) - started).total_seconds()
    return {**doc, "path": str(out), "bytes": data.stat().st_size, "seconds": round(seconds, 3)}


def _read_manifest(path: Path) -> tuple[Path, dict[str, Any] | None]:
    if path.is_dir():
        where = path / MANIFEST
        if not where.exists():
            raise InputError(f"{path}: no {MANIFEST} (an export from `cxloop export`?)")
        try:
            doc = json.loads(where.read_text())
        except ValueError as exc:
            raise InputError(f"{where}: not JSON ({exc})") from None
        if doc.get("format") != FORMAT_NAME or doc.get("format_version") != FORMAT_VERSION:
            raise InputError(
                f"{where}: format {doc.get('format')!r} version {doc.get('format_version')!r}; "
                f"expected {FORMAT_NAME!r} version {FORMAT_VERSION}"
            )
        return path / str(doc.get("file", DATA_FILE)), doc
    if path.is_file():
        return path, None
    raise InputError(f"{path}: no such file or directory")


def import_log(ws: Workspace, path: Path) -> dict[str, Any]:
    """Append an export's events to this store; verified before and after."""
    ws.writable_log("import")
    data, doc = _read_manifest(path)
    if not data.exists():
        raise InputError(f"{data}: the export's data file is missing")
    con = duckdb.connect()
    started = datetime.now(UTC)
    ingest_id = started.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    try:
        ws.configure(con)
        try:
            con.execute(
                f"CREATE TEMP VIEW _import AS SELECT * FROM read_parquet({_sql_path(data)})"
            )
        except duckdb.Error as exc:
            raise InputError(f"{data}: not a readable Parquet file ({exc})") from None
        have = [r[0] for r in con.execute("DESCRIBE _import").fetchall()]
        missing = [c for c in COLUMNS if c not in have]
        if missing:
            raise InputError(f"{data}: missing column(s) {', '.join(missing)}")
        rows, digest = checksum(con, "_import")
        if doc is not None and (rows, digest) != (doc["rows"], doc["checksum"]):
            raise InputError(
                f"{data}: {rows} rows with checksum {digest}, but the manifest says "
                f"{doc['rows']} rows with checksum {doc['checksum']}: the file was changed or "
                "cut short; nothing was imported"
            )
        bad = _bad_hashes(con, "_import")
        problems = [
            Problem(str(data), pos, "content_hash", "the row's content does not match its hash", e)
            for e, pos in bad
        ]
        keep = ", ".join(c for c in COLUMNS if c != "ingest_id")
        con.execute(
            f"CREATE TEMP VIEW _staged AS SELECT {keep}, NULL::VARCHAR AS ingest_id FROM _import "
            f"WHERE content_hash IS NOT DISTINCT FROM {content_hash_sql()}"
        )
        ws.state.start_run(ingest_id, "import", str(data.resolve()), started.isoformat())
        with ws.write_lock():
            appended = ws.log.append(con, "_staged", ingest_id)
            pointindex.refresh(ws.log, con)  # point reads (store/pointindex.py)
            positions: dict[str, int] = {}
            if appended.conflicts:
                positions = dict(con.execute("SELECT event_id, _pos FROM _positions").fetchall())
            problems += [
                Problem(
                    str(data),
                    int(positions.get(c["event_id"], 0)),
                    "event_id",
                    f"event_id {c['event_id']} is already in this store with different content",
                    c["event_id"],
                )
                for c in appended.conflicts
            ]
            hashes = {str(data): digest}
            ws.state.record_files(ingest_id, hashes, datetime.now(UTC).isoformat())
            ws.state.quarantine(ingest_id, "import", hashes, problems)
            counts = {
                "rows_read": rows,
                "events_new": appended.new,
                "events_duplicate": appended.duplicates,
                "rows_quarantined": len({p.row for p in problems}),
                "log_version": appended.version,
            }
            ws.state.finish_run(ingest_id, datetime.now(UTC).isoformat(), counts)
        log = ws.log.relation(con)
        held = checksum(
            con, f"(SELECT * FROM {log} WHERE event_id IN (SELECT event_id FROM _import))"
        )
    finally:
        con.close()
    verified = not problems and held == (rows, digest)
    seconds = (datetime.now(UTC) - started).total_seconds()
    return {
        "ingest_id": ingest_id,
        "file": str(data),
        **counts,
        "checksum": digest,
        "store_checksum": held[1],
        "verified": verified,
        "problems": [p.__dict__ for p in problems],
        "seconds": round(seconds, 3),
    }
