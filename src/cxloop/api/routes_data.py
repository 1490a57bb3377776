"""Events in, timelines and promises out: the foundation's endpoints (C1, C2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cxloop.analytics.reports import DIMENSIONS
from cxloop.api.deps import Cx, Page, PageOut, Paging, Rt, Who, out, page, sent_page
from cxloop.api.errors import ERROR_RESPONSES, ApiError
from cxloop.library.edges import Principal
from cxloop.results.ledger import (
    Baseline,
    IngestRun,
    LedgerBuild,
    LedgerStatus,
    Promise,
    PromiseCounts,
    Quarantined,
    TimelineEvent,
)

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
MAX_BATCH = 10_000


class EventIn(BaseModel):
    """One event in the canonical schema (docs/events.md). Every field is checked by the
    ingest; a bad row is quarantined and reported by its position in the batch (row 1 is
    the first event), the others still load. Extra fields are folded into ``attrs``."""

    model_config = ConfigDict(extra="allow")
    event_id: Any = None
    customer_id: Any = None
    event_type: Any = None
    ts: Any = None
    department: Any = None
    channel: Any = None
    ref: Any = None
    amount: Any = None
    due_at: Any = None
    attrs: Any = None


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class RowProblem(BaseModel):
    row: int
    field: str
    reason: str
    value: str | None = None


class IngestOut(BaseModel):
    ingest_id: str
    file: str
    rows_read: int
    events_new: int
    events_duplicate: int
    rows_quarantined: int
    log_version: int
    problems: list[RowProblem]


@router.post("/events", response_model=IngestOut, tags=["events"])
def ingest_events(batch: EventBatch, who: Who, rt: Rt, cx: Cx) -> dict[str, Any]:
    """Append a batch of events (up to 10,000). Idempotent: an event already in the log
    (same ``event_id``, same content) is counted as a duplicate, not added again; the same
    id with different content is quarantined as a conflict. The batch is kept as a file
    under HOME/inbox/ (the record of what arrived)."""
    who.require("ingest")
    rows = (
        {k: v for k, v in event.model_dump().items() if v is not None} for event in batch.events
    )
    path, report = cx.ingest_batch(rows, "api")
    if report.events_new:
        rt.wrote()
    return {
        "ingest_id": report.ingest_id,
        "file": path.name,
        "rows_read": report.rows_read,
        "events_new": report.events_new,
        "events_duplicate": report.events_duplicate,
        "rows_quarantined": report.rows_quarantined,
        "log_version": report.log_version,
        "problems": [
            {"row": p.row, "field": p.field, "reason": p.reason, "value": p.value}
            for p in report.problems
        ],
    }


@router.get("/ingests", response_model=PageOut[IngestRun], tags=["events"])
def ingests(who: Who, rt: Rt, cx: Cx, p: Page) -> dict[str, Any]:
    """Ingest runs, newest first. (``path``: the full path for an admin; for other roles
    the path inside the store, or the file's name: the server's layout is no one's data.)"""
    runs = cx.ingest_runs()
    if not who.can("ingest"):
        runs = [r.model_copy(update={"path": shown_path(r.path, rt)}) for r in runs]
    return page(who, runs, p)


@router.get("/quarantine", response_model=PageOut[Quarantined], tags=["events"])
def quarantine(
    who: Who,
    rt: Rt,
    cx: Cx,
    p: Page,
    all_loads: Annotated[bool, Query(alias="all")] = False,
    file: str | None = None,
) -> dict[str, Any]:
    """Quarantined rows: file, row, field, reason and the raw record. ``file`` is the full
    path for an admin; for other roles the path inside the store (``inbox/…``), or the
    file's name. The ``file`` filter takes either."""
    found = cx.quarantined(all_loads=all_loads, file=file)
    if not who.can("ingest"):
        found = [q.model_copy(update={"file": shown_path(q.file, rt)}) for q in found]
    return page(who, found, p)


def shown_path(path: str, rt: Rt) -> str:
    """A loaded file's path as a caller who may not ingest sees it: inside the store,
    relative to it; elsewhere, the file's name only."""
    where = Path(path)
    try:
        return where.relative_to(Path(rt.settings.home).resolve()).as_posix()
    except ValueError:
        return where.name


@router.get(
    "/customers/{customer_id}/timeline", response_model=PageOut[TimelineEvent], tags=["customers"]
)
async def timeline(customer_id: str, who: Who, cx: Cx, p: Page) -> dict[str, Any] | Response:
    """One customer's events from every department, in time order."""
    # a read of a few row groups is answered here, on the event loop: the hop to a worker
    # thread and back, and threads contending for the interpreter, cost more than the read
    found = cx.small_timeline_rows(customer_id, p.limit, p.offset)
    if found is None:
        found = await run_in_threadpool(cx.timeline_rows, customer_id, p.limit, p.offset)
    items, total = found
    return sent_page(items, total, p)


def page_of(who: Principal, items: list[Any], total: int, p: Paging) -> dict[str, Any]:
    end = p.offset + len(items)
    return {
        "items": out(who, items),
        "total": total,
        "limit": p.limit,
        "offset": p.offset,
        "next_offset": end if end < total else None,
    }


@router.get(
    "/customers/{customer_id}/promises", response_model=PageOut[Promise], tags=["customers"]
)
def customer_promises(customer_id: str, who: Who, cx: Cx, p: Page) -> dict[str, Any]:
    """The customer's promises: what was promised, by when, and what became of it."""
    items, total = cx.promise_page(p.limit, p.offset, customer_id=customer_id)
    return page_of(who, items, total, p)


@router.get("/customers/{customer_id}/baselines", response_model=list[Baseline], tags=["customers"])
def customer_baselines(customer_id: str, who: Who, cx: Cx) -> list[Baseline]:
    """What this customer has come to expect, per promise rule."""
    return cx.customer_baselines(customer_id)


@router.get("/promises", response_model=PageOut[Promise], tags=["promises"])
def promises(
    who: Who,
    cx: Cx,
    p: Page,
    state: str | None = None,
    kind: str | None = None,
    rule: str | None = None,
    department: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """The promise ledger, filtered; oldest first."""
    items, total = cx.promise_page(
        p.limit,
        p.offset,
        state=state,
        kind=kind,
        rule=rule,
        department=department,
        customer_id=customer_id,
    )
    return page_of(who, items, total, p)


@router.get(
    "/promises/report",
    response_model=list[PromiseCounts],
    response_model_exclude_unset=True,
    tags=["promises"],
)
def promise_report(
    who: Who,
    cx: Cx,
    by: Annotated[str | None, Query(description=f"one of {', '.join(DIMENSIONS)}")] = "kind",
) -> list[PromiseCounts]:
    """Counts and rates (kept, exceeded, broken, at risk) per kind, rule, department,
    state or month."""
    if by is not None and by not in DIMENSIONS:
        raise ApiError(
            422,
            "invalid_request",
            f"by: expected one of {', '.join(DIMENSIONS)}, got {by!r}",
            [{"field": "query.by", "reason": "unknown dimension"}],
        )
    return cx.promise_counts(by)


@router.get(
    "/ledger", response_model=LedgerStatus, response_model_exclude_unset=True, tags=["promises"]
)
def ledger_status(who: Who, cx: Cx) -> LedgerStatus:
    """The ledger's build: as-of time, log version, rules version, whether it is stale."""
    return cx.ledger_status()


@router.post("/ledger/build", response_model=LedgerBuild, tags=["promises"])
def ledger_build(who: Who, rt: Rt, cx: Cx) -> LedgerBuild:
    """Rebuild the promise ledger now (reads rebuild it anyway when the log changed)."""
    who.require("build_ledger")
    built = cx.build_ledger()
    rt.wrote()
    return built
