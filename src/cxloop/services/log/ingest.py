"""Use case: load a file (or directory) through a named mapping into the event log."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from cxloop.errors import InputError
from cxloop.ingest.mapfile.engine import FileMapping
from cxloop.ingest.mappings import Mapping, get_mapping
from cxloop.ingest.scales import quarantine_out_of_scale
from cxloop.ingest.vocabulary import Vocabulary
from cxloop.services.log import journal
from cxloop.services.log.point_reads import index_store
from cxloop.store import crash, pointindex
from cxloop.store.eventlog import AppendResult
from cxloop.store.state import Problem
from cxloop.version import __version__
from cxloop.workspace.workspace import Workspace

Progress = Callable[[str], None]


@dataclass(frozen=True)
class IngestReport:
    ingest_id: str
    source: str
    path: str
    files: list[str]
    rows_read: int
    events_new: int
    events_duplicate: int
    rows_quarantined: int
    log_version: int
    problems: list[Problem] = field(default_factory=list)
    unchanged: bool = False  # the same file contents were loaded before: nothing re-read
    #: what may be wrong beyond the rows quarantined (e.g. a date's day and month swapped)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "ingest_id": self.ingest_id,
            "source": self.source,
            "path": self.path,
            "files": self.files,
            "rows_read": self.rows_read,
            "events_new": self.events_new,
            "events_duplicate": self.events_duplicate,
            "rows_quarantined": self.rows_quarantined,
            "log_version": self.log_version,
            "problems": [p.__dict__ for p in self.problems],
            "unchanged": self.unchanged,
            "warnings": self.warnings,
        }


def _metrics_source(ws: Workspace) -> str:
    """Where the scales are configured, for the quarantine's messages."""
    path = ws.settings.metrics
    return "built-in metrics" if path is None else f"metrics file {path.name}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:  # a symbolic link loop, a directory, no permission
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _conflicts(
    appended: AppendResult, records: dict[tuple[str, int, str], str] | None = None
) -> list[Problem]:
    found = records or {}
    return [
        Problem(
            c["file"],
            int(c["row"]),
            "event_id",
            conflict_reason(c),
            c["event_id"],
            found.get((c["file"], int(c["row"]), c["event_id"])),
        )
        for c in appended.conflicts
    ]


#: what a refused event's quarantine record shows: the event as mapped (a row that passed
#: every check keeps no raw record), times in ISO 8601 UTC, attrs as the object it is
_RECORD_SQL = (
    "json_object('event_id', s.event_id, 'customer_id', s.customer_id, 'event_type', "
    "s.event_type, 'ts', strftime(s.ts, '%Y-%m-%dT%H:%M:%SZ'), 'department', s.department, "
    "'channel', s.channel, 'ref', s.ref, 'amount', s.amount, 'due_at', "
    "strftime(s.due_at, '%Y-%m-%dT%H:%M:%SZ'), 'attrs', json(s.attrs))"
)


def conflict_records(
    con: duckdb.DuckDBPyConnection, staged: str, conflicts: list[dict[str, Any]]
) -> dict[tuple[str, int, str], str]:
    """The refused events as mapped, as JSON, by (file, row, event id): the corrected value
    is there to see in the quarantine (a scan of the staged rows, only when some conflict)."""
    if not conflicts:
        return {}
    import pyarrow as pa

    keys = pa.table(
        {
            "f": [str(c["file"]) for c in conflicts],
            "r": pa.array([int(c["row"]) for c in conflicts], pa.int64()),
            "e": [str(c["event_id"]) for c in conflicts],
        }
    )
    con.register("_conflict_keys", keys)
    try:
        rows = con.execute(f"""
            SELECT s.source_file, s.source_row, s.event_id, CAST({_RECORD_SQL} AS VARCHAR)
            FROM {staged} s JOIN _conflict_keys k
              ON s.source_file = k.f AND s.source_row = k.r AND s.event_id = k.e
        """).fetchall()
    finally:
        con.unregister("_conflict_keys")
    return {(f, int(r), e): rec for f, r, e, rec in rows}


def conflict_reason(c: dict[str, Any]) -> str:
    """Why an event was refused: its id is in the log, or earlier in this load, with other
    content (the columns that differ, and the first copy's file and row, where known)."""
    eid = c["event_id"]
    differs = c.get("differs") or []
    content = "different content" + (f": {', '.join(differs)}" if differs else "")
    if c.get("log_ingest"):
        loaded = c["log_ingest"]
        return f"event_id {eid} is already in the log with {content} (loaded by ingest {loaded})"
    if c.get("first_row") is None:
        return f"event_id {eid} appears more than once in this load with {content}"
    if c.get("first_file") == c["file"]:
        return (
            f"event_id {eid} appears more than once in this file with {content} "
            f"(first at row {c['first_row']})"
        )
    return (
        f"event_id {eid} appears more than once in this load with {content} "
        f"(first at row {c['first_row']} of {c['first_file']})"
    )


def _signature(source: str, hashes: dict[str, str]) -> str:
    """What decides a run's outcome: the cxloop version, the mapping and the file contents."""
    parts = [__version__, source, *(f"{f}\0{h}" for f, h in sorted(hashes.items()))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _unchanged(
    ws: Workspace, previous: dict[str, Any], ingest_id: str, hashes: dict[str, str]
) -> IngestReport:
    """The report of a run that found the same file contents already loaded: the log is
    append-only, so re-reading them would add nothing; the quarantine is as it was."""
    problems = [
        Problem(
            q["file"],
            q["row"],
            q["field"],
            q["reason"],
            q["value"],
            json.dumps(q["record"]) if q["record"] is not None else None,
        )
        for file in hashes
        for q in ws.state.quarantined(current_only=True, file=file)
    ]
    counts: dict[str, Any] = {
        "rows_read": int(previous["rows_read"]),
        "events_new": 0,
        "events_duplicate": int(previous["events_new"]) + int(previous["events_duplicate"]),
        "rows_quarantined": int(previous["rows_quarantined"]),
        "log_version": ws.log.version,
    }
    ws.state.record_files(ingest_id, hashes, _now())
    ws.state.finish_run(ingest_id, _now(), counts, "unchanged")
    journal.Journal(ws.home).end(ingest_id)
    return IngestReport(
        ingest_id,
        previous["source"],
        previous["path"],
        list(hashes),
        problems=problems,
        unchanged=True,
        **counts,
    )


def vocabulary(ws: Workspace) -> Vocabulary:
    """The store's configured departments and channels (settings)."""
    s = ws.settings
    return Vocabulary(s.departments, s.unknown_departments, s.channels, s.unknown_channels)


def bound(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    """Hold an ingest run's DuckDB to ``ingest_memory`` (``ingest_threads``): what outgrows
    it (the rows read, checked and sorted) spills to the store's tmp/ (``ws.configure``).
    Insertion order stays preserved: the row numbers of the quarantine rest on it."""
    threads = ws.settings.ingest_threads
    con.execute(
        f"SET memory_limit = '{ws.settings.ingest_memory}'; SET preserve_insertion_order = true"
        + (f"; SET threads = {threads}" if threads else "")
    )


def resolve_mapping(
    source: str = "generic", mapping: str | Path | None = None, params: dict[str, str] | None = None
) -> Mapping:
    """A built-in mapping by name, or the mapping file ``mapping``, with its parameters set."""
    chosen = FileMapping.from_file(Path(mapping)) if mapping is not None else get_mapping(source)
    if params:
        if not isinstance(chosen, FileMapping):
            raise InputError(f"mapping {chosen.name} takes no parameters (--param)")
        chosen = chosen.with_params(params)
    return chosen


def ingest_path(
    ws: Workspace,
    path: str | Path,
    source: str = "generic",
    progress: Progress | None = None,
    force: bool = False,
    mapping: str | Path | None = None,
    params: dict[str, str] | None = None,
) -> IngestReport:
    """Map, validate and append; bad rows go to the quarantine. Safe to re-run.

    Files whose exact contents this cxloop version already loaded through the same mapping
    are not read again (``force`` reads them anyway; the result is the same). Each run works
    in its own in-memory DuckDB, so nothing it read stays in memory after it.
    """
    ws.writable_log("ingest")
    step = progress or (lambda _msg: None)
    chosen = resolve_mapping(source, mapping, params)
    source = chosen.name
    try:
        target = Path(path).resolve()
        exists = target.exists()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise InputError(f"{path}: cannot be read ({exc})") from exc
    if not exists:
        raise InputError(f"{path}: no such file or directory")
    files = chosen.inputs(target)
    step(f"hashing {len(files)} file(s)")
    hashes = {str(f): _sha256(f) for f in files}
    ingest_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    # a mapping file's text (and parameters) decide the outcome as much as the data do, and
    # configured scales decide what is quarantined: another metrics file is another run
    configured = ws.settings.metrics is not None or ws.settings.unknown_metrics != "accept"
    scales = f"\0{sorted(ws.scales.items())!r}{ws.settings.unknown_metrics}" if configured else ""
    signature = _signature(source + ":" + getattr(chosen, "fingerprint", "") + scales, hashes)
    journal.recover(ws, wait=False)  # runs of killed writers, if the store is free now
    runs = journal.Journal(ws.home)
    runs.begin(ingest_id)
    ws.state.start_run(ingest_id, source, str(target), _now(), signature)
    previous = None if force else ws.state.last_done_run(signature)
    if previous is not None:
        return _unchanged(ws, previous, ingest_id, hashes)
    con = duckdb.connect()
    committed = False
    try:
        ws.configure(con)
        bound(con, ws)
        vocabulary(ws).apply(con)
        step("reading and validating rows")
        staged = chosen.stage(con, target, "_staged")
        staged = quarantine_out_of_scale(
            con,
            staged,
            ws.scales,
            _metrics_source(ws),
            refuse_unknown=ws.settings.unknown_metrics == "refuse",
        )
        crash.point("staged")
        step("appending new events")
        with ws.write_lock():
            journal.recover_locked(ws)
            entry: dict[str, Any] = {}

            def before_commit(appended: AppendResult) -> None:
                records = conflict_records(con, staged.table, appended.conflicts)
                problems = sorted(
                    staged.problems + _conflicts(appended, records),
                    key=lambda p: (p.file, p.row, p.field),
                )
                counts = {
                    "rows_read": staged.rows_read,
                    "events_new": appended.new,
                    "events_duplicate": appended.duplicates,
                    "rows_quarantined": len({(p.file, p.row) for p in problems}),
                    "log_version": appended.version,
                }
                entry.update(journal.record(source, hashes, problems, counts))
                runs.commit(ingest_id, entry)

            appended = ws.log.append(con, staged.table, ingest_id, before_commit)
            committed = True
            limit = ws.settings.compact_segments
            if appended.new and ws.log.needs_compaction(limit):
                step("compacting the event log")
                ws.log.compact(con, ingest_id)
                entry["counts"]["log_version"] = ws.log.version
            if appended.new:
                step("indexing the new segment by customer")
                pointindex.refresh(ws.log, con)  # point reads (store/pointindex.py)
            step("recording quarantine")
            journal.apply(ws, ingest_id, entry)
    except BaseException:
        if not committed:  # else the journal finishes the run (journal.recover)
            failed = {**journal.FAILED, "log_version": ws.log.version}
            ws.state.finish_run(ingest_id, _now(), failed, "failed")
            runs.end(ingest_id)
        raise
    finally:
        con.close()
    counts = entry["counts"]
    return IngestReport(
        ingest_id,
        source,
        str(target),
        list(hashes),
        staged.rows_read,
        appended.new,
        appended.duplicates,
        counts["rows_quarantined"],
        counts["log_version"],
        [Problem(**p) for p in entry["problems"]],
        warnings=list(staged.warnings),
    )


def compact(ws: Workspace) -> dict[str, Any]:
    """Rewrite the event log as one segment (same rows, sorted by event type, customer and time)."""
    ws.writable_log("compact")
    started = datetime.now(UTC)
    con = duckdb.connect()
    try:
        ws.configure(con)
        with ws.write_lock():
            journal.recover_locked(ws)  # runs of killed writers first: see journal.py
            result = ws.log.compact(con, started.strftime("%Y%m%dT%H%M%S"))
    finally:
        con.close()
    index_store(ws)  # and the customer-sorted copies a store lacks (point reads)
    seconds = (datetime.now(UTC) - started).total_seconds()
    return {**result, "log_version": ws.log.version, "seconds": round(seconds, 3)}
