"""Use case: what an ingest would do with a file, without a store (``mappings check``).

The file is mapped, its score answers checked against the configured scales and its
events classified by the event log's own append logic (ids repeated within the file with
other content are conflicts) against an empty log, in a scratch DuckDB: the prediction
is what ``cxloop ingest`` into an empty store reports, problem for problem.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from cxloop.errors import InputError
from cxloop.ingest.mapfile.engine import FileMapping
from cxloop.ingest.scales import quarantine_out_of_scale
from cxloop.ingest.vocabulary import Vocabulary
from cxloop.services.log.ingest import conflict_reason
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog
from cxloop.store.state import Problem
from cxloop.workspace.metrics import load_metrics


def preview(mapping: FileMapping, sample: Path, settings: Settings) -> dict[str, Any]:
    """Map ``sample`` as an ingest into an empty store would (nothing is loaded): rows
    read, events (new to the log), events by type (distinct ids), rows quarantined and
    the problems."""
    if not sample.exists():
        raise InputError(f"{sample}: no such file or directory")
    scales = load_metrics(settings.metrics)
    where = "built-in metrics"
    if settings.metrics is not None:
        where = f"metrics file {settings.metrics.name}"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        Vocabulary(
            settings.departments,
            settings.unknown_departments,
            settings.channels,
            settings.unknown_channels,
        ).apply(con)
        staged = mapping.stage(con, sample.resolve(), "_staged")
        staged = quarantine_out_of_scale(
            con, staged, scales, where, refuse_unknown=settings.unknown_metrics == "refuse"
        )
        with tempfile.TemporaryDirectory() as empty:
            outcome = EventLog(Path(empty)).append(con, staged.table, "check", write=False)
        by_type = f"SELECT event_type, count(DISTINCT event_id) FROM {staged.table} GROUP BY 1"
        types = Counter(dict(con.execute(by_type).fetchall()))
    finally:
        con.close()
    conflicts = [
        Problem(c["file"], int(c["row"]), "event_id", conflict_reason(c), c["event_id"])
        for c in outcome.conflicts
    ]
    problems = sorted(staged.problems + conflicts, key=lambda p: (p.file, p.row, p.field))
    return {
        "rows_read": staged.rows_read,
        "events": outcome.new,
        "events_duplicate": outcome.duplicates,
        "by_type": ", ".join(f"{t} {n:,}" for t, n in types.most_common()) or "none",
        "rows_quarantined": len({(p.file, p.row) for p in problems}),
        "problems": [
            {"file": p.file, "row": p.row, "field": p.field, "reason": p.reason, "value": p.value}
            for p in problems
        ],
        "warnings": staged.warnings,
    }
