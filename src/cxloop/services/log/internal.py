"""Facts cxloop itself creates (a remedy granted, a follow-up promised) go into the event
log through the same ingest path as every department's export.

Each batch is written as a JSON Lines file under ``HOME/internal/`` and ingested
with the ``generic`` mapping: the same validation, the same idempotency by
``event_id`` (callers derive ids from what happened, so a retry adds nothing),
and the file stays as the record of what was written.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.domain.clock import INTERNAL_PREFIX
from cxloop.errors import StoreError
from cxloop.services.log.ingest import IngestReport, ingest_path
from cxloop.workspace.workspace import Workspace


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with a Z (naive times are taken as UTC)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.replace(microsecond=0).isoformat() + "Z"


def event_row(
    event_id: str,
    customer_id: str,
    event_type: str,
    ts: datetime,
    ref: str,
    *,
    department: str = "",
    channel: str = "",
    amount: float | None = None,
    due_at: datetime | None = None,
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": event_type,
        "ts": iso(ts),
        "department": department,
        "channel": channel,
        "ref": ref,
        "amount": "" if amount is None else amount,
        "due_at": "" if due_at is None else iso(due_at),
        "attrs": attrs or {},
    }


def _line(row: dict[str, Any]) -> str:
    """One JSON Lines line; a text no UTF-8 can hold (a lone surrogate) is written escaped,
    for the ingest to quarantine that row alone."""
    line = json.dumps(row, default=str, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(row, default=str)
    return line + "\n"


def write_batch(folder: Path, name: str, rows: Iterable[dict[str, Any]]) -> Path:
    """Rows as a new JSON Lines file ``folder/name-<wall time>-<random>.jsonl``, written under a
    temporary name and renamed, so an ingest never reads half a batch."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{name}-{stamp}-{secrets.token_hex(4)}.jsonl"
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(_line(row))
    tmp.replace(path)
    return path


def record_events(ws: Workspace, name: str, rows: list[dict[str, Any]]) -> IngestReport:
    """Append cxloop's own events; raises :class:`StoreError` if any row is refused.

    Their ids begin with ``cx-`` (:data:`INTERNAL_PREFIX`): the store's data clock does not
    count them, so acting on a historical store does not move its time."""
    strays = [r["event_id"] for r in rows if not str(r["event_id"]).startswith(INTERNAL_PREFIX)]
    if strays:
        raise StoreError(f"cxloop's own event ids must begin {INTERNAL_PREFIX!r}: {strays[0]!r}")
    path = write_batch(ws.home / "internal", name, rows)
    report = ingest_path(ws, path, "generic")
    if report.rows_quarantined:
        first = report.problems[0]
        raise StoreError(
            f"{path.name}: cxloop's own event was refused at row {first.row}, field "
            f"{first.field}: {first.reason}"
        )
    return report
