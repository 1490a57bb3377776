"""The ingest journal: one ingest is one transaction from the reader's view.

An ingest writes to two places: the event log (a manifest rename, or a PostgreSQL
commit) and the state (the quarantine and the run's row). Each run keeps a journal file,
``HOME/journal/<ingest_id>.json``: written when the run starts (``running``, with the
process id), then, just before the log commits, rewritten and fsynced with everything
the state must record (``committing``: the file hashes, every quarantined row including
the conflicts found by the append, the counts). The state is written from that record
and the journal deleted.

A writer killed anywhere in between leaves its journal. The next ingest (or compaction)
takes the write lock and :func:`recover` finishes each journal whose process is gone: a
``committing`` run whose events are in the log (or that added none) gets its quarantine
rows and the state ``done`` from the record; any other is marked ``failed`` (its events
never became visible). Temporary files of killed writers are deleted at the same time.
So after a crash and the next ingest: no event lost or twice, the quarantine complete,
no run left ``running``, no temporary file left.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.errors import Busy, StoreError
from cxloop.store import crash
from cxloop.store.files import fsync_dir, read_json, write_json_atomic
from cxloop.store.lock import WriteLock
from cxloop.store.state import Problem
from cxloop.workspace.workspace import Workspace

FAILED = dict.fromkeys(("rows_read", "events_new", "events_duplicate", "rows_quarantined"), 0)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Journal:
    """The journal files of one store (``HOME/journal``)."""

    def __init__(self, home: Path) -> None:
        self.root = home / "journal"

    def _path(self, ingest_id: str) -> Path:
        return self.root / f"{ingest_id}.json"

    def begin(self, ingest_id: str) -> None:
        write_json_atomic(
            self._path(ingest_id),
            {"ingest_id": ingest_id, "phase": "running", "pid": os.getpid(), "host": _host()},
        )

    def commit(self, ingest_id: str, record: dict[str, Any]) -> None:
        """Record what the state must hold for the run; call before the log commits."""
        entry = {**read_json(self._path(ingest_id), {}), **record, "phase": "committing"}
        write_json_atomic(self._path(ingest_id), entry)
        crash.point("journal-written")

    def end(self, ingest_id: str) -> None:
        self._path(ingest_id).unlink(missing_ok=True)
        if self.root.exists():
            fsync_dir(self.root)

    def entries(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        out = []
        for path in sorted(self.root.glob("*.json")):
            try:
                out.append(read_json(path, {}))
            except StoreError:  # half-written before the rename: never a committed record
                path.unlink(missing_ok=True)
        return out


def _host() -> str:
    return socket.gethostname()


def _alive(entry: dict[str, Any]) -> bool:
    """Whether the run's process may still be working (another host: assume it is)."""
    if entry.get("host") != _host():
        return True
    try:
        os.kill(int(entry.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record(
    source: str, hashes: dict[str, str], problems: list[Problem], counts: dict[str, int]
) -> dict[str, Any]:
    """The journal record of a run about to commit."""
    return {
        "source": source,
        "hashes": hashes,
        "problems": [p.__dict__ for p in problems],
        "counts": counts,
    }


def apply(ws: Workspace, ingest_id: str, entry: dict[str, Any]) -> None:
    """Write a committing run's record into the state: files, quarantine, run ``done``."""
    hashes = entry["hashes"]
    ws.state.record_files(ingest_id, hashes, _now())
    problems = [Problem(**p) for p in entry["problems"]]
    ws.state.quarantine(ingest_id, entry["source"], hashes, problems)
    crash.point("quarantine-recorded")
    ws.state.finish_run(ingest_id, _now(), entry["counts"])
    crash.point("run-finished")
    Journal(ws.home).end(ingest_id)


def recover(ws: Workspace, wait: bool = True) -> list[str]:
    """Finish the runs of killed writers and delete their temporary files (see the module
    docstring); returns the ingest ids settled. ``wait=False``: skip if the store is busy
    (the writer holding it, or a later one, will do it)."""
    journal = Journal(ws.home)
    try:
        lock = WriteLock(ws.home / ".lock", ws.settings.lock_timeout if wait else 0.0)
        with lock:
            return _recover(ws, journal)
    except Busy:
        if wait:
            raise
        return []


def recover_locked(ws: Workspace) -> list[str]:
    """:func:`recover`, for a caller that holds the write lock already."""
    return _recover(ws, Journal(ws.home))


def _recover(ws: Workspace, journal: Journal) -> list[str]:
    settled = []
    for entry in journal.entries():
        ingest_id = str(entry.get("ingest_id", ""))
        if not ingest_id or _alive(entry):
            continue
        counts = entry.get("counts") or {}
        if entry.get("phase") == "committing" and (
            not counts.get("events_new") or ws.log.committed(ingest_id)
        ):
            apply(ws, ingest_id, entry)
        else:
            ws.state.finish_run(
                ingest_id, _now(), {**FAILED, "log_version": ws.log.version}, "failed"
            )
            journal.end(ingest_id)
        settled.append(ingest_id)
    ws.log.clean_temp()
    return settled
