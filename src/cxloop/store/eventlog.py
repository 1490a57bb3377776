"""The event log: append-only Parquet segments listed by an atomic manifest.

Each ingest run that adds events writes one immutable segment file; the
manifest (``events/manifest.json``) lists the segments and carries a version
that grows with every append. Readers take the manifest as it is and never
wait; writers append under the store's :class:`~cxloop.store.lock.WriteLock`.
The same Parquet files are what a Spark or other engine reads at scale.

Every segment (appended or compacted) is written in :data:`SEGMENT_ORDER`: by event type
first, so the Parquet row groups of one type sit together and a query for some types
(nearly every analytic: the ledger's openers, the detectors' orders and contacts, the
voice's answers) skips the other row groups by their min/max statistics; then by customer
and time, so a timeline reads few row groups within each type and joins on customer meet
their rows in order. The sort costs ingest time and memory (10 M events: about 45% more
time, 40% more memory); the analytics that run every day over the log gain more
(docs/benchmarks.md, "Scale").
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cxloop.domain.events import LOG_COLUMNS
from cxloop.errors import StoreError
from cxloop.store import crash, sameevent
from cxloop.store.files import fsync_dir, fsync_file, read_json, write_json_atomic

_SQL_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "float64": "DOUBLE", "int64": "BIGINT"}
LOG_COLUMN_NAMES = [c.name for c in LOG_COLUMNS]
RETIRED_GRACE = 3600.0  # seconds a compacted-away segment is kept for readers still on it
#: The row order of every segment file (see the module docstring).
SEGMENT_ORDER = "event_type, customer_id, ts, event_id"
#: Which copy of an id repeated in a batch is the first (appended; the later ones are
#: duplicates or conflicts). The hash breaks the tie of two events of one source row.
FIRST_COPY = "source_file, source_row, content_hash"
#: Rows a segment's Parquet row group holds (DuckDB's default), fewer when the
#: connection's memory limit is small: the writer holds one row group in memory.
ROW_GROUP_ROWS = 122_880
_ROW_BYTES = 1000  # a generous guess at a log row's size in memory, for the above
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
_UNITS |= {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def memory_limit(con: duckdb.DuckDBPyConnection) -> int | None:
    """``con``'s memory limit in bytes (None: none, or a form not known here)."""
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    number, _, unit = str(row[0] if row else "").partition(" ")
    try:
        return int(float(number) * _UNITS[unit])
    except (KeyError, ValueError):
        return None


def row_group_rows(con: duckdb.DuckDBPyConnection) -> int:
    """Rows per row group for a segment written on ``con`` (:data:`ROW_GROUP_ROWS`, or
    what an eighth of a small memory limit holds)."""
    limit = memory_limit(con)
    if limit is None:
        return ROW_GROUP_ROWS
    return max(2048, min(ROW_GROUP_ROWS, limit // 8 // _ROW_BYTES))


@dataclass(frozen=True)
class AppendResult:
    new: int
    duplicates: int  # already in the log (or repeated in the batch) with the same content
    conflicts: list[dict[str, Any]]  # same event_id, different content: to quarantine
    segment: str | None
    version: int


#: Called with the outcome of an append just before it commits (the manifest rename, the
#: PostgreSQL commit): the ingest journals the run there (see cxloop.services.log.journal).
BeforeCommit = Callable[[AppendResult], None]


class EventLog:
    backend = "parquet"

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

    def needs_compaction(self, limit: int) -> bool:
        """Whether the log has grown to ``limit`` segments (0: never)."""
        return bool(limit) and len(self.manifest()["segments"]) >= limit

    def relation(
        self, con: duckdb.DuckDBPyConnection, manifest: dict[str, Any] | None = None
    ) -> str:
        """The log's rows (as of ``manifest``) on DuckDB connection ``con``, as a FROM item."""
        return self.relation_sql(manifest)

    def relation_sql(self, manifest: dict[str, Any] | None = None) -> str:
        """A DuckDB FROM-clause over the segments (or an empty, typed relation)."""
        paths = self.segment_paths(manifest)
        if not paths:
            cols = ", ".join(f"NULL::{_SQL_TYPES[c.dtype]} AS {c.name}" for c in LOG_COLUMNS)
            return f"(SELECT {cols} WHERE false)"
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        return f"read_parquet([{files}])"

    def append(
        self,
        con: duckdb.DuckDBPyConnection,
        staged: str,
        ingest_id: str,
        before_commit: BeforeCommit | None = None,
        write: bool = True,
    ) -> AppendResult:
        """Append the rows of relation ``staged`` (log columns); call under the write lock.
        (``write`` false: nothing is written; the outcome is what an append would do.)

        Idempotent by ``event_id``: an id already in the log (or earlier in the
        batch) with the same content is a duplicate and is skipped (``attrs`` compared as
        JSON: see :mod:`cxloop.store.sameevent`); with other content it is a conflict,
        returned for quarantine. The segment file and its directory are on the disk before
        ``before_commit`` runs and the manifest is renamed (the commit).
        """
        manifest = self.manifest()
        known = self._known(con, staged, manifest)
        repeats = self._repeats_in_batch(con, staged, known)
        conflicts = con.execute("""
            SELECT source_file, source_row, event_id, _log_ingest FROM _known
            WHERE _log_hash <> content_hash
            UNION ALL
            SELECT source_file, source_row, event_id, NULL FROM _repeats WHERE _differs
            ORDER BY 1, 2, 3
        """).fetchall()
        differs = self._settle(con, staged, manifest) if conflicts else {}
        same = {key for key, names in differs.items() if not names}
        settled = [c for c in conflicts if (c[0], int(c[1]), c[2]) in same]
        firsts = self._firsts(con) if len(settled) < len(conflicts) else {}
        (rows,) = con.execute(f"SELECT count(*) FROM {staged}").fetchone() or (0,)
        (in_log, known_dupes) = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE _log_hash = content_hash) FROM _known"
        ).fetchone() or (0, 0)
        (repeat_dupes,) = con.execute(
            "SELECT count(*) FILTER (WHERE NOT _differs) FROM _repeats"
        ).fetchone() or (0,)
        new = int(rows) - int(in_log) - repeats
        version = int(manifest["version"]) + (1 if new else 0)
        segment = f"seg-{version:06d}-{ingest_id}.parquet" if new and write else None
        if segment:
            self._write_segment(con, staged, ingest_id, segment, bool(known), bool(repeats))
        con.execute(
            "DROP TABLE IF EXISTS _known; DROP TABLE IF EXISTS _repeats; "
            "DROP VIEW IF EXISTS _incoming"
        )
        result = AppendResult(
            new=new,
            duplicates=int(known_dupes) + int(repeat_dupes) + len(settled),
            conflicts=[
                {"file": f, "row": r, "event_id": eid, "log_ingest": li}
                | {"differs": differs.get((f, int(r), eid), [])}
                | ({} if li else firsts.get(eid, {}))
                for f, r, eid, li in conflicts
                if (f, int(r), eid) not in same
            ],
            segment=segment,
            version=version,
        )
        if before_commit is not None:
            before_commit(result)
        if segment:
            manifest["segments"].append({"file": segment, "rows": new, "ingest_id": ingest_id})
            manifest["version"] = version
            write_json_atomic(self.manifest_path, manifest)
        crash.point("log-committed")
        return result

    def _write_segment(
        self,
        con: duckdb.DuckDBPyConnection,
        staged: str,
        ingest_id: str,
        segment: str,
        known: bool,
        repeats: bool,
    ) -> None:
        """The new rows of ``staged`` (id not in ``_known``; of an id in ``_repeats``, the
        first copy) as segment file ``segment`` in :data:`SEGMENT_ORDER`, fsynced with its directory
        (not yet listed in the manifest). One streaming ``COPY``: DuckDB sorts within the
        connection's memory limit (spilling beyond it) and writes row group by row group."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{segment}"
        cols = ", ".join(
            f"'{ingest_id}' AS ingest_id" if c == "ingest_id" else c for c in LOG_COLUMN_NAMES
        )
        keep = [
            f"NOT EXISTS (SELECT 1 FROM {t} k WHERE k.event_id = s.event_id)"
            for t, on in (("_known", known), ("_repeats", repeats))
            if on
        ]
        where = f"WHERE {' AND '.join(keep)}" if keep else ""
        rows = f"SELECT {cols} FROM {staged} s {where}"
        if repeats:  # of an id repeated in the batch, its first copy (one source row can
            # make several events: the row alone does not name a copy)
            rows += f" UNION ALL SELECT {cols} FROM ({_numbered(staged, '_repeats')}) WHERE _k = 1"
        con.execute(
            f"COPY ({rows} ORDER BY {SEGMENT_ORDER}) "
            f"TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {row_group_rows(con)})"
        )
        fsync_file(tmp)
        crash.point("segment-written")
        os.replace(tmp, self.root / segment)
        fsync_dir(self.root)
        crash.point("segment-renamed")

    def _known(self, con: duckdb.DuckDBPyConnection, staged: str, manifest: dict[str, Any]) -> int:
        """The rows of ``staged`` whose ``event_id`` is in the log, with the log's hash and
        run, into ``_known``: a join on the ids alone (the log's other columns are never
        read). Returns how many."""
        if manifest["segments"]:
            log = f"(SELECT event_id, content_hash, ingest_id FROM {self.relation_sql(manifest)})"
        else:
            log = "(SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS content_hash, "
            log += "NULL::VARCHAR AS ingest_id WHERE false)"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _known AS
            SELECT s.source_file, s.source_row, s.event_id, s.content_hash,
                   e.content_hash AS _log_hash, e.ingest_id AS _log_ingest
            FROM (SELECT source_file, source_row, event_id, content_hash FROM {staged}) s
            JOIN {log} e USING (event_id)
        """)
        (n,) = con.execute("SELECT count(*) FROM _known").fetchone() or (0,)
        return int(n)

    def _settle(
        self, con: duckdb.DuckDBPyConnection, staged: str, manifest: dict[str, Any]
    ) -> dict[tuple[str, int, str], list[str]]:
        """Per (file, row, event_id) of a hash mismatch, the columns that differ; none: the
        same event after all (``attrs`` with other whitespace or key order), a duplicate,
        not a conflict. Each event is named by its id too: one row can make several."""
        log = self.relation_sql(manifest)
        cols = ", ".join(sameevent.CONTENT_COLUMNS)
        pairs = con.execute(f"""
            WITH rep AS ({_numbered(staged, "(SELECT * FROM _repeats WHERE _differs)")})
            SELECT {sameevent.select_pair("i", "e")} FROM {staged} i
            JOIN (SELECT event_id, content_hash AS _log_hash, {cols} FROM {log}
                  WHERE event_id IN (SELECT event_id FROM _known
                                     WHERE _log_hash <> content_hash)) e
              USING (event_id)
            WHERE i.content_hash <> e._log_hash
            UNION ALL
            SELECT {sameevent.select_pair("i", "f")} FROM rep i
            JOIN rep f ON f.event_id = i.event_id AND f._k = 1
            WHERE i._k > 1 AND i.content_hash <> f.content_hash
        """).fetchall()
        return sameevent.differences(pairs)

    @staticmethod
    def _firsts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
        """Where the batch's first copy of each id in ``_repeats`` with other content is."""
        rows = con.execute(
            "SELECT DISTINCT event_id, _first_file, _first_row FROM _repeats WHERE _differs"
        ).fetchall()
        return {eid: {"first_file": f, "first_row": int(r)} for eid, f, r in rows}

    def committed(self, ingest_id: str) -> bool:
        """Whether a segment of run ``ingest_id`` is in the log (or was compacted into it)."""
        for seg in self.manifest()["segments"]:
            if seg.get("ingest_id") == ingest_id or ingest_id in seg.get("of", []):
                return True
        return False

    def clean_temp(self) -> list[str]:
        """Delete what a killed writer left: temporary files, and segment files the
        manifest never listed (renamed, then killed before the commit). Call under the
        write lock (no append is half-way then)."""
        if not self.root.exists():
            return []
        m = self.manifest()
        listed = {s["file"] for s in m["segments"]} | {r["file"] for r in m.get("retired", [])}
        gone = []
        for path in [*self.root.glob(".tmp-*"), *self.root.glob("seg-*.parquet")]:
            if path.name not in listed:
                path.unlink(missing_ok=True)
                gone.append(path.name)
        return gone

    @staticmethod
    def _repeats_in_batch(con: duckdb.DuckDBPyConnection, staged: str, known: int) -> int:
        """Later copies of an id new to the log but repeated in the batch, into ``_repeats``.

        The first copy (by file, row and content hash: :data:`FIRST_COPY`) is the one
        appended; ``_differs`` marks later copies
        whose content differs from it (conflicts). Returns how many later copies there are.
        Only the ids, rows and hashes are read. The ids are counted by their 64-bit hash
        (8 bytes a row to group, not the id's text): a collision only lets a few more rows
        into the window, which numbers the copies by the id itself.
        """
        new = f"SELECT source_file, source_row, event_id, content_hash FROM {staged}"
        if known:
            new += " WHERE event_id NOT IN (SELECT event_id FROM _known)"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _repeats AS
            WITH n AS ({new})
            SELECT source_file, source_row, event_id, content_hash,
                   _k > 1 AND content_hash <> _first AS _differs, _first_file, _first_row
            FROM (
              SELECT source_file, source_row, event_id, content_hash,
                     row_number() OVER w AS _k, first_value(content_hash) OVER w AS _first,
                     first_value(source_file) OVER w AS _first_file,
                     first_value(source_row) OVER w AS _first_row
              FROM n
              WHERE hash(event_id) IN (
                SELECT hash(event_id) FROM n GROUP BY 1 HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY event_id ORDER BY {FIRST_COPY}))
            WHERE _k > 1
        """)
        (n,) = con.execute("SELECT count(*) FROM _repeats").fetchone() or (0,)
        return int(n)

    def compact(self, con: duckdb.DuckDBPyConnection, stamp: str) -> dict[str, Any]:
        """Rewrite every segment as one (in :data:`SEGMENT_ORDER`); call under the write
        lock. The rows do not change (lineage columns included); the version grows, so
        cached views and the ledger move to the new file. The old segment files stay where
        they are (a reader may still hold the old manifest), listed under ``retired`` in
        the manifest, and a later compaction deletes them once they are older than
        :data:`RETIRED_GRACE` seconds."""
        manifest = self.manifest()
        old = manifest["segments"]
        rows = sum(int(s["rows"]) for s in old)
        now = time.time()
        retired = self._purge_retired(manifest.get("retired", []), now)
        if len(old) < 2:
            if retired != manifest.get("retired", []):
                write_json_atomic(self.manifest_path, {**manifest, "retired": retired})
            return {"segments_before": len(old), "segments_after": len(old), "rows": rows}
        version = int(manifest["version"]) + 1
        segment = f"seg-{version:06d}-compact-{stamp}.parquet"
        tmp = self.root / f".tmp-{segment}"
        cols = ", ".join(LOG_COLUMN_NAMES)
        con.execute(
            f"COPY (SELECT {cols} FROM {self.relation_sql(manifest)} "
            f"ORDER BY {SEGMENT_ORDER}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)"
        )
        (written,) = con.execute(f"SELECT count(*) FROM read_parquet('{tmp}')").fetchone() or (0,)
        if int(written) != rows:
            tmp.unlink(missing_ok=True)
            raise StoreError(
                f"compaction wrote {written} rows for {rows} in the log; nothing was changed"
            )
        fsync_file(tmp)
        os.replace(tmp, self.root / segment)
        fsync_dir(self.root)
        ingests = sorted({str(s.get("ingest_id", "")) for s in old})
        manifest["segments"] = [
            {"file": segment, "rows": rows, "ingest_id": f"compact-{stamp}", "of": ingests}
        ]
        manifest["retired"] = retired + [{"file": s["file"], "at": now} for s in old]
        manifest["version"] = version
        write_json_atomic(self.manifest_path, manifest)
        return {"segments_before": len(old), "segments_after": 1, "rows": rows}

    def _purge_retired(self, retired: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Delete retired segment files past the grace period; returns the ones kept."""
        kept = []
        for r in retired:
            if now - float(r["at"]) > RETIRED_GRACE:
                (self.root / r["file"]).unlink(missing_ok=True)
            else:
                kept.append(r)
        return kept


def _numbered(staged: str, ids: str) -> str:
    """The rows of ``staged`` whose id is in relation ``ids``, numbered ``_k`` per id in
    :data:`FIRST_COPY` order."""
    return (
        f"SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY {FIRST_COPY}) AS _k "
        f"FROM {staged} WHERE event_id IN (SELECT event_id FROM {ids})"
    )
