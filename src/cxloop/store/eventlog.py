"""The event log: append-only Parquet segments listed by an atomic manifest.

Each ingest run that adds events writes one immutable segment file; the
manifest (``events/manifest.json``) lists the segments and carries a version
that grows with every append. Readers take the manifest as it is and never
wait; writers append under the store's :class:`~cxloop.store.lock.WriteLock`.
The same Parquet files are what a Spark or other engine reads at scale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cxloop.domain.events import LOG_COLUMNS
from cxloop.store.files import read_json, write_json_atomic

_SQL_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "float64": "DOUBLE", "int64": "BIGINT"}
LOG_SCHEMA_SQL = ", ".join(f"{c.name} {_SQL_TYPES[c.dtype]}" for c in LOG_COLUMNS)
LOG_COLUMN_NAMES = [c.name for c in LOG_COLUMNS]


@dataclass(frozen=True)
class AppendResult:
    new: int
    duplicates: int  # already in the log (or repeated in the batch) with the same content
    conflicts: list[dict[str, Any]]  # same event_id, different content: to quarantine
    segment: str | None
    version: int


class EventLog:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest_path = root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path, {"version": 0, "segments": []})

    @property
    def version(self) -> int:
        return int(self.manifest()["version"])

    def segment_paths(self, manifest: dict[str, Any] | None = None) -> list[Path]:
        m = self.manifest() if manifest is None else manifest
        return [self.root / s["file"] for s in m["segments"]]

    def relation_sql(self, manifest: dict[str, Any] | None = None) -> str:
        """A DuckDB FROM-clause over the segments (or an empty, typed relation)."""
        paths = self.segment_paths(manifest)
        if not paths:
            cols = ", ".join(f"NULL::{_SQL_TYPES[c.dtype]} AS {c.name}" for c in LOG_COLUMNS)
            return f"(SELECT {cols} WHERE false)"
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        return f"read_parquet([{files}])"

    def append(self, con: duckdb.DuckDBPyConnection, staged: str, ingest_id: str) -> AppendResult:
        """Append the rows of temp table ``staged`` (log columns); call under the write lock.

        Idempotent by ``event_id``: an id already in the log (or earlier in the
        batch) with the same ``content_hash`` is a duplicate and is skipped; with
        a different hash it is a conflict, returned for quarantine.
        """
        manifest = self.manifest()
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _ranked AS
            SELECT s.* REPLACE ('{ingest_id}' AS ingest_id),
                   row_number() OVER (PARTITION BY s.event_id ORDER BY s.source_row) AS _k,
                   first_value(s.content_hash) OVER (
                       PARTITION BY s.event_id ORDER BY s.source_row) AS _first_hash,
                   e.content_hash AS _log_hash, e.ingest_id AS _log_ingest
            FROM {staged} s
            LEFT JOIN (SELECT event_id, content_hash, ingest_id
                       FROM {self.relation_sql(manifest)}) e USING (event_id)
        """)
        conflicts = con.execute("""
            SELECT source_file, source_row, event_id, _log_ingest
            FROM _ranked
            WHERE (_log_hash IS NOT NULL AND _log_hash <> content_hash)
               OR (_log_hash IS NULL AND _k > 1 AND _first_hash <> content_hash)
            ORDER BY source_file, source_row
        """).fetchall()
        (dupes,) = con.execute("""
            SELECT count(*) FROM _ranked
            WHERE (_log_hash IS NOT NULL AND _log_hash = content_hash)
               OR (_log_hash IS NULL AND _k > 1 AND _first_hash = content_hash)
        """).fetchone() or (0,)
        (new,) = con.execute(
            "SELECT count(*) FROM _ranked WHERE _log_hash IS NULL AND _k = 1"
        ).fetchone() or (0,)
        segment = None
        version = int(manifest["version"])
        if new:
            version += 1
            segment = f"seg-{version:06d}-{ingest_id}.parquet"
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".tmp-{segment}"
            cols = ", ".join(LOG_COLUMN_NAMES)
            con.execute(
                f"COPY (SELECT {cols} FROM _ranked WHERE _log_hash IS NULL AND _k = 1) "
                f"TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)"
            )
            os.replace(tmp, self.root / segment)
            manifest["segments"].append({"file": segment, "rows": new, "ingest_id": ingest_id})
            manifest["version"] = version
            write_json_atomic(self.manifest_path, manifest)
        con.execute("DROP TABLE IF EXISTS _ranked")
        return AppendResult(
            new=int(new),
            duplicates=int(dupes),
            conflicts=[
                {"file": f, "row": r, "event_id": eid, "log_ingest": li}
                for f, r, eid, li in conflicts
            ],
            segment=segment,
            version=version,
        )
