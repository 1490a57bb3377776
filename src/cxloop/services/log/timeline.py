"""Use case: one customer's events from every department, in time order."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from cxloop.errors import NotFoundError
from cxloop.services.log.point_reads import customer_events
from cxloop.store.pointindex import EVENT_COLUMNS
from cxloop.workspace.workspace import Workspace

#: what a timeline shows: the columns of the log's customer-sorted copies, less the key
TIMELINE_COLUMNS = list(EVENT_COLUMNS[1:])


def timeline_expr(events: ir.Table, customer_id: str) -> ir.Table:
    mine = events.filter(events.customer_id == customer_id)
    return mine.select(*TIMELINE_COLUMNS).order_by(["ts", "event_id"])


def customer_timeline(ws: Workspace, customer_id: str) -> pd.DataFrame:
    """The customer's events in time order (empty when none): on the embedded store from
    its customer-sorted copies (:mod:`cxloop.services.log.point_reads`), else one query."""
    found = customer_events(ws, customer_id, TIMELINE_COLUMNS)
    if found is None:
        found = timeline_expr(ws.events(), customer_id).execute()
    return found


def timeline(ws: Workspace, customer_id: str) -> pd.DataFrame:
    """The customer's events in time order."""
    events = customer_timeline(ws, customer_id)
    if events.empty:
        raise NotFoundError(f"no events for customer {customer_id!r} in {ws.home}")
    return events
