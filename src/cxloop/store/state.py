"""Operational state: ingest runs and the quarantine, and the handle every state store
(cases, brief actions, incidents, API keys, the outbox) uses.

The state is the SQLite file ``HOME/state.sqlite`` (WAL: a running server and the CLI
read and write it at once; writes wait up to the busy timeout instead of failing), or a
PostgreSQL database when ``database_url`` is set. The tables are created and changed by
the migrations in :mod:`cxloop.store.migrations` (see :mod:`cxloop.store.db`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.store import db

if TYPE_CHECKING:
    from cxloop.settings import Settings


@dataclass(frozen=True)
class Problem:
    """One bad field of one input row."""

    file: str
    row: int
    field: str
    reason: str
    value: str | None = None
    record: str | None = None  # the whole raw row, as JSON


def _storable(text: str | None) -> str | None:
    return text.replace("\x00", "\\u0000") if text else text


class StateDB:
    """The operational state of one store: a SQLite file or a PostgreSQL URL.

    Opening checks the schema revision (one query). A SQLite file that is behind (new,
    or made by an earlier cxloop) is migrated to the head on the spot; a PostgreSQL
    database that is behind is refused with :class:`~cxloop.errors.ConfigError` (run
    ``cxloop migrate``).
    """

    def __init__(self, target: Path | str) -> None:
        self.target: Path | str
        self.url: str | None  # PostgreSQL: the URL; SQLite: None
        self.path: Path | None  # SQLite: the file; PostgreSQL: None
        if db.is_postgres(target):
            self.target = self.url = str(target)
            self.path = None
        else:
            self.path = Path(target)
            self.target = self.path
            self.url = None
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dialect: db.Dialect = db.dialect_of(self.target)
        db.ensure_current(self.target)

    @classmethod
    def open(cls, settings: Settings) -> StateDB:
        """The state the settings name: ``database_url``, else ``home/state.sqlite``."""
        return cls(settings.database_url or settings.home / "state.sqlite")

    def __repr__(self) -> str:
        return f"StateDB({db.redact(self.target)!r})"

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with db.connect(self.target) as con:
            yield con

    @contextmanager
    def kept(self) -> Iterator[db.Connection]:
        """:meth:`connect` on a SQLite connection this object keeps open, for a frequent
        small transaction (a server's key check on every request: opening the file and
        setting WAL cost more than the query). Each transaction still sees every commit
        made before it began, by any process. PostgreSQL's connections are pooled anyway.
        Not for two threads at once (one server request holds a workspace at a time)."""
        if self.path is None:
            with self.connect() as con:
                yield con
            return
        lite = self.__dict__.get("_kept")
        if lite is None:
            lite = self.__dict__["_kept"] = db.open_sqlite(self.path)
        with db.on_sqlite(lite) as con:
            yield con

    def close(self) -> None:
        """Close the connection :meth:`kept` keeps (if any)."""
        lite = self.__dict__.pop("_kept", None)
        if lite is not None:
            lite.close()

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
        """The latest completed run that read exactly these file contents the same way,
        since the last retraction (a retraction changes what a file's rows meet in the log)."""
        with self.connect() as con:
            row = con.execute(
                "SELECT * FROM ingest_runs WHERE signature = ? AND status = 'done' "
                "AND started_at > (SELECT coalesce(max(at), '') FROM retractions) "
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
                "INSERT INTO file_loads (file, file_sha256, ingest_id, loaded_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (file, ingest_id) DO UPDATE SET "
                "file_sha256 = excluded.file_sha256, loaded_at = excluded.loaded_at",
                [(f, sha, ingest_id, loaded_at) for f, sha in files.items()],
            )

    def quarantine(
        self, ingest_id: str, source: str, hashes: dict[str, str], problems: Iterable[Problem]
    ) -> int:
        """Store problems; the same problem of the same file content is stored once. A NUL
        character (PostgreSQL text cannot hold one) is stored as the escape ``\\u0000``."""
        rows = [
            (
                ingest_id,
                source,
                p.file,
                hashes.get(p.file, ""),
                p.row,
                _storable(p.field),
                _storable(p.reason),
                _storable(p.value),
                _storable(p.record),
            )
            for p in problems
        ]
        with self.connect() as con:
            con.executemany(
                "INSERT INTO quarantine (ingest_id, source, file, file_sha256, row, field, "
                "reason, value, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (file_sha256, row, field, reason) DO UPDATE SET "
                "ingest_id = excluded.ingest_id, retracted_at = NULL "
                "WHERE quarantine.retracted_at IS NOT NULL",  # reloaded after a revert
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
        if current_only:  # a retracted run's rows are history, not current problems
            where.append("q.retracted_at IS NULL")
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
