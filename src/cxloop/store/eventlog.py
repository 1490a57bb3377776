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
        """Append the rows of relation ``staged`` (log columns); call under the write lock.

        Idempotent by ``event_id``: an id already in the log (or earlier in the
        batch) with the same ``content_hash`` is a duplicate and is skipped; with
        a different hash it is a conflict, returned for quarantine.
        """
        manifest = self.manifest()
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _incoming AS
            SELECT s.* REPLACE ('{ingest_id}' AS ingest_id),
                   e.content_hash AS _log_hash, e.ingest_id AS _log_ingest
            FROM {staged} s
            LEFT JOIN (SELECT event_id, content_hash, ingest_id
                       FROM {self.relation_sql(manifest)}) e USING (event_id)
        """)
        repeats = self._repeats_in_batch(con)
        conflicts = con.execute("""
            SELECT source_file, source_row, event_id, _log_ingest FROM _incoming
            WHERE _log_hash <> content_hash
            UNION ALL
            SELECT source_file, source_row, event_id, NULL FROM _repeats WHERE _differs
            ORDER BY 1, 2
        """).fetchall()
        (candidates, known_dupes) = con.execute("""
            SELECT count(*) FILTER (WHERE _log_hash IS NULL),
                   count(*) FILTER (WHERE _log_hash = content_hash)
            FROM _incoming
        """).fetchone() or (0, 0)
        (repeat_dupes,) = con.execute(
            "SELECT count(*) FILTER (WHERE NOT _differs) FROM _repeats"
        ).fetchone() or (0,)
        new = int(candidates) - repeats
        segment = None
        version = int(manifest["version"])
        if new:
            version += 1
            segment = f"seg-{version:06d}-{ingest_id}.parquet"
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".tmp-{segment}"
            cols = ", ".join(LOG_COLUMN_NAMES)
            keep = "_log_hash IS NULL"
            if repeats:
                keep += (
                    " AND NOT EXISTS (SELECT 1 FROM _repeats r WHERE r.source_file = i.source_file"
                    " AND r.source_row = i.source_row)"
                )
            con.execute(
                f"COPY (SELECT {cols} FROM _incoming i WHERE {keep}) "
                f"TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)"
            )
            os.replace(tmp, self.root / segment)
            manifest["segments"].append({"file": segment, "rows": new, "ingest_id": ingest_id})
            manifest["version"] = version
            write_json_atomic(self.manifest_path, manifest)
        con.execute("DROP TABLE IF EXISTS _incoming; DROP TABLE IF EXISTS _repeats")
        return AppendResult(
            new=new,
            duplicates=int(known_dupes) + int(repeat_dupes),
            conflicts=[
                {"file": f, "row": r, "event_id": eid, "log_ingest": li}
                for f, r, eid, li in conflicts
            ],
            segment=segment,
            version=version,
        )

    @staticmethod
    def _repeats_in_batch(con: duckdb.DuckDBPyConnection) -> int:
        """Later copies of an id new to the log but repeated in the batch, into ``_repeats``.

        The first copy (by file and row) is the one appended; ``_differs`` marks later copies
        whose content differs from it (conflicts). Returns how many later copies there are.
        """
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _repeats AS
            SELECT source_file, source_row, event_id, _k > 1 AND content_hash <> _first AS _differs
            FROM (
              SELECT source_file, source_row, event_id, content_hash,
                     row_number() OVER w AS _k, first_value(content_hash) OVER w AS _first
              FROM _incoming
              WHERE _log_hash IS NULL AND event_id IN (
                SELECT event_id FROM _incoming WHERE _log_hash IS NULL
                GROUP BY event_id HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY event_id ORDER BY source_file, source_row))
            WHERE _k > 1
        """)
        (n,) = con.execute("SELECT count(*) FROM _repeats").fetchone() or (0,)
        return int(n)
