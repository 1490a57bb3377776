"""Events in, timelines and promises out: the foundation's endpoints (C1, C2)."""

from __future__ import annotations

from typing import Annotated, Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from cxloop.analytics.reports import DIMENSIONS, BaselineReport, PromiseReport, run
from cxloop.api.deps import Page, PageOut, Paging, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES, ApiError
from cxloop.api.models import (
    Baseline,
    IngestRun,
    LedgerBuild,
    LedgerStatus,
    Promise,
    PromiseCounts,
    Quarantined,
    TimelineEvent,
)
from cxloop.errors import NotFoundError
from cxloop.services import ledger as ledger_service
from cxloop.services import reads
from cxloop.services.access import Principal
from cxloop.services.ingest import ingest_path
from cxloop.services.internal import write_batch
from cxloop.services.timeline import TIMELINE_COLUMNS, customer_timeline

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
MAX_BATCH = 10_000
PROMISE_FILTERS = ledger_service.PROMISE_FILTERS


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
def ingest_events(batch: EventBatch, who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Append a batch of events (up to 10,000). Idempotent: an event already in the log
    (same ``event_id``, same content) is counted as a duplicate, not added again; the same
    id with different content is quarantined as a conflict. The batch is kept as a file
    under HOME/inbox/ (the record of what arrived)."""
    who.require("ingest")
    rows = (
        {k: v for k, v in event.model_dump().items() if v is not None} for event in batch.events
    )
    path = write_batch(ws.home / "inbox", "api", rows)
    report = ingest_path(ws, path, "generic")
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
def ingests(who: Who, ws: Ws, p: Page) -> dict[str, Any]:
    """Ingest runs, newest first."""
    return page(who, reads.ingest_runs(ws), p)


@router.get("/quarantine", response_model=PageOut[Quarantined], tags=["events"])
def quarantine(
    who: Who,
    ws: Ws,
    p: Page,
    all_loads: Annotated[bool, Query(alias="all")] = False,
    file: str | None = None,
) -> dict[str, Any]:
    """Quarantined rows: file, row, field, reason and the raw record."""
    return page(who, reads.quarantined(ws, all_loads=all_loads, file=file), p)


@router.get(
    "/customers/{customer_id}/timeline", response_model=PageOut[TimelineEvent], tags=["customers"]
)
def timeline(customer_id: str, who: Who, ws: Ws, p: Page) -> dict[str, Any]:
    """One customer's events from every department, in time order."""
    mine = customer_timeline(ws, customer_id)
    if mine.empty:
        raise NotFoundError(f"no events for customer {customer_id!r}")
    chunk = mine.iloc[p.offset : p.offset + p.limit]
    return page_of(who, rows(chunk[TIMELINE_COLUMNS]), len(mine), p)


def paged(expr: ir.Table, p: Paging) -> tuple[pd.DataFrame, int]:
    """One page of an ordered expression and the total, in one query (a window count)."""
    counted = expr.mutate(_total=ibis._.count().over(ibis.window()))
    df = counted.limit(p.limit, offset=p.offset).execute()
    if len(df):
        return df.drop(columns="_total"), int(df["_total"].iloc[0])
    return df.drop(columns="_total"), int(expr.count().execute())  # past the end


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
def customer_promises(customer_id: str, who: Who, ws: Ws, p: Page) -> dict[str, Any]:
    """The customer's promises: what was promised, by when, and what became of it."""
    df = ledger_service.customer_promises(ws, customer_id)
    return page(who, rows(df), p)


@router.get("/customers/{customer_id}/baselines", response_model=list[Baseline], tags=["customers"])
def customer_baselines(customer_id: str, who: Who, ws: Ws) -> list[dict[str, Any]]:
    """What this customer has come to expect, per promise rule."""
    df = run(ledger_service.promises_table(ws), BaselineReport(customer_id=customer_id))
    return out(who, rows(df.execute()))  # type: ignore[no-any-return]


@router.get("/promises", response_model=PageOut[Promise], tags=["promises"])
def promises(
    who: Who,
    ws: Ws,
    p: Page,
    state: str | None = None,
    kind: str | None = None,
    rule: str | None = None,
    department: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """The promise ledger, filtered; oldest first."""
    expr = ledger_service.promises_expr(
        ws, state=state, kind=kind, rule=rule, department=department, customer_id=customer_id
    )
    df, total = paged(expr, p)
    return page_of(who, rows(df), total, p)


@router.get(
    "/promises/report",
    response_model=list[PromiseCounts],
    response_model_exclude_unset=True,
    tags=["promises"],
)
def promise_report(
    who: Who,
    ws: Ws,
    by: Annotated[str | None, Query(description=f"one of {', '.join(DIMENSIONS)}")] = "kind",
) -> list[dict[str, Any]]:
    """Counts and rates (kept, exceeded, broken, at risk) per kind, rule, department,
    state or month."""
    if by is not None and by not in DIMENSIONS:
        raise ApiError(
            422,
            "invalid_request",
            f"by: expected one of {', '.join(DIMENSIONS)}, got {by!r}",
            [{"field": "query.by", "reason": "unknown dimension"}],
        )
    df = run(ledger_service.promises_table(ws), PromiseReport(by=by)).execute()
    return out(who, rows(df))  # type: ignore[no-any-return]


@router.get(
    "/ledger", response_model=LedgerStatus, response_model_exclude_unset=True, tags=["promises"]
)
def ledger_status(who: Who, ws: Ws) -> dict[str, Any]:
    """The ledger's build: as-of time, log version, rules version, whether it is stale."""
    return out(who, ledger_service.ledger_status(ws))  # type: ignore[no-any-return]


@router.post("/ledger/build", response_model=LedgerBuild, tags=["promises"])
def ledger_build(who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Rebuild the promise ledger now (reads rebuild it anyway when the log changed)."""
    who.require("build_ledger")
    built = ledger_service.build_ledger(ws)
    rt.wrote()
    return out(who, built.as_dict())  # type: ignore[no-any-return]
