"""Operational state in SQLite (WAL): ingest runs and the quarantine.

WAL mode lets a running server and the CLI read and write the same file at the
same time; writes wait up to the busy timeout instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS ingest_runs (
    ingest_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    rows_read INTEGER,
    events_new INTEGER,
    events_duplicate INTEGER,
    rows_quarantined INTEGER,
    log_version INTEGER,
    status TEXT NOT NULL,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ingest_id TEXT NOT NULL,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    row INTEGER NOT NULL,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    value TEXT,
    record TEXT,
    UNIQUE (file_sha256, row, field, reason)
);
CREATE TABLE IF NOT EXISTS file_loads (
    file TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    ingest_id TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (file, ingest_id)
);
"""


@dataclass(frozen=True)
class Problem:
    """One bad field of one input row."""

    file: str
    row: int
    field: str
    reason: str
    value: str | None = None
    record: str | None = None  # the whole raw row, as JSON


class StateDB:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30.0)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=30000")
            con.row_factory = sqlite3.Row
            with con:
                yield con
        finally:
            con.close()

    def start_run(
        self, ingest_id: str, source: str, path: str, started_at: str, signature: str = ""
    ) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO ingest_runs (ingest_id, source, path, started_at, status, signature) "
                "VALUES (?, ?, ?, ?, 'running', ?)",
                (ingest_id, source, path, started_at, signature),
            )

    def last_done_run(self, signature: str) -> dict[str, Any] | None:
        """The latest completed run that read exactly these file contents the same way."""
        with self.connect() as con:
            row = con.execute(
                "SELECT * FROM ingest_runs WHERE signature = ? AND status = 'done' "
                "ORDER BY started_at DESC LIMIT 1",
                (signature,),
            ).fetchone()
            return dict(row) if row else None

    def finish_run(
        self, ingest_id: str, finished_at: str, counts: dict[str, int], status: str = "done"
    ) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE ingest_runs SET finished_at=?, rows_read=?, events_new=?, "
                "events_duplicate=?, rows_quarantined=?, log_version=?, status=? "
                "WHERE ingest_id=?",
                (
                    finished_at,
                    counts["rows_read"],
                    counts["events_new"],
                    counts["events_duplicate"],
                    counts["rows_quarantined"],
                    counts["log_version"],
                    status,
                    ingest_id,
                ),
            )

    def record_files(self, ingest_id: str, files: dict[str, str], loaded_at: str) -> None:
        with self.connect() as con:
            con.executemany(
                "INSERT OR REPLACE INTO file_loads VALUES (?, ?, ?, ?)",
                [(f, sha, ingest_id, loaded_at) for f, sha in files.items()],
            )

    def quarantine(
        self, ingest_id: str, source: str, hashes: dict[str, str], problems: Iterable[Problem]
    ) -> int:
        """Store problems; the same problem of the same file content is stored once."""
        rows = [
            (
                ingest_id,
                source,
                p.file,
                hashes.get(p.file, ""),
                p.row,
                p.field,
                p.reason,
                p.value,
                p.record,
            )
            for p in problems
        ]
        with self.connect() as con:
            con.executemany(
                "INSERT OR IGNORE INTO quarantine (ingest_id, source, file, file_sha256, row, "
                "field, reason, value, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def quarantined(
        self, *, current_only: bool = True, file: str | None = None, ingest_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Quarantined rows; by default only those of each file's latest loaded content."""
        sql = "SELECT q.* FROM quarantine q"
        where: list[str] = []
        args: list[Any] = []
        if current_only:
            sql += (
                " JOIN (SELECT file, file_sha256 FROM file_loads f1 WHERE loaded_at = "
                "(SELECT max(loaded_at) FROM file_loads f2 WHERE f2.file = f1.file)) cur"
                " ON cur.file = q.file AND cur.file_sha256 = q.file_sha256"
            )
        if file:  # a path as loaded, or its trailing part (a file name)
            resolved = str(Path(file).resolve()) if Path(file).exists() else file
            where.append("(q.file = ? OR q.file LIKE ? ESCAPE '\\')")
            escaped = file.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args += [resolved, "%/" + escaped]
        if ingest_id:
            where.append("q.ingest_id = ?")
            args.append(ingest_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY q.file, q.row, q.field"
        with self.connect() as con:
            out = []
            for r in con.execute(sql, args).fetchall():
                d = dict(r)
                d["record"] = json.loads(d["record"]) if d["record"] else None
                out.append(d)
            return out

    def runs(self) -> list[dict[str, Any]]:
        with self.connect() as con:
            return [
                dict(r)
                for r in con.execute("SELECT * FROM ingest_runs ORDER BY started_at").fetchall()
            ]
