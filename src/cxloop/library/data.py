"""The event log and the promise ledger (C1, C2) in the library, as typed results
(:mod:`cxloop.results.ledger`): batches in, ingest runs, quarantined rows, a customer's
timeline, promises, baselines, the promise report and the ledger's build."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxloop.errors import NotFoundError
from cxloop.results.record import Record
from cxloop.serialize import clean
from cxloop.services.log import ingest as ingest_service
from cxloop.services.promises import ledger as ledger_service

if TYPE_CHECKING:
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
    from cxloop.workspace.workspace import Workspace

R = TypeVar("R", bound=Record)
#: the filters of :meth:`DataMixin.promise_page` (state, kind, rule, department, customer_id)
PROMISE_FILTERS = ledger_service.PROMISE_FILTERS


def records(df: pd.DataFrame, json_columns: tuple[str, ...] = ("attrs",)) -> list[dict[str, Any]]:
    """A DataFrame as JSON-safe records, with JSON text columns (attrs) parsed."""
    from cxloop.services.log import timeline_rows

    return timeline_rows.frame_records(df, json_columns)


def _paged(expr: ir.Table, limit: int | None, offset: int) -> tuple[pd.DataFrame, int]:
    """One page of an ordered expression and the total, in one query (a window count)."""
    if limit is None:
        df = expr.execute()
        return df.iloc[offset:], len(df)
    counted = expr.mutate(_total=ibis._.count().over(ibis.window()))
    df = counted.limit(limit, offset=offset).execute()
    if len(df):
        return df.drop(columns="_total"), int(df["_total"].iloc[0])
    return df.drop(columns="_total"), int(expr.count().execute())  # past the end


def _typed(kind: type[R], rows: Iterable[dict[str, Any]]) -> list[R]:
    return [kind.model_validate(clean(r)) for r in rows]


class DataMixin:
    """The event log's and the ledger's methods of :class:`cxloop.Cxloop`."""

    workspace: Workspace

    def ingest_batch(
        self, rows: Iterable[dict[str, Any]], name: str = "api"
    ) -> tuple[Path, ingest_service.IngestReport]:
        """Append events given as dicts (the canonical schema, docs/events.md): they are
        kept as a JSON Lines file under HOME/inbox/ (named after ``name``), then ingested
        like any file. The file and the report."""
        from cxloop.services.log.internal import write_batch

        path = write_batch(self.workspace.home / "inbox", name, rows)
        return path, ingest_service.ingest_path(self.workspace, path, "generic")

    def ingest_runs(self) -> list[IngestRun]:
        """Ingest runs, newest first."""
        from cxloop.results.ledger import IngestRun
        from cxloop.services.log import listings as reads

        return _typed(IngestRun, reads.ingest_runs(self.workspace))

    def quarantined(self, *, all_loads: bool = False, file: str | None = None) -> list[Quarantined]:
        """Quarantined rows (of the current loads unless ``all_loads``), of one file or all:
        file, row, field, reason and the raw record."""
        from cxloop.results.ledger import Quarantined
        from cxloop.services.log import listings as reads

        found = reads.quarantined(self.workspace, all_loads=all_loads, file=file)
        return _typed(Quarantined, found)

    def timeline_events(
        self, customer_id: str, limit: int | None = None, offset: int = 0
    ) -> tuple[list[TimelineEvent], int]:
        """One page of a customer's events in time order, and how many there are in all
        (NotFoundError for a customer without events)."""
        from cxloop.results.ledger import TimelineEvent

        items, total = self.timeline_rows(customer_id, limit, offset)
        return _typed(TimelineEvent, items), total

    def timeline_rows(
        self, customer_id: str, limit: int | None = None, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """:meth:`timeline_events` as JSON-ready records (the dicts its results are made
        of: what the API sends), from the point read without a DataFrame where it can."""
        from cxloop.services.log import timeline_rows

        items, total = timeline_rows.timeline_page(self.workspace, customer_id, limit, offset)
        if not total:
            raise NotFoundError(f"no events for customer {customer_id!r}")
        return items, total

    def small_timeline_rows(
        self, customer_id: str, limit: int | None = None, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int] | None:
        """:meth:`timeline_rows` where it is a read of a few milliseconds: the customer's
        events lie in at most ``inline_read_groups`` row groups of the embedded store's
        customer-sorted copies (a server answers these on its event loop); None where the
        read would take more (call :meth:`timeline_rows`) or there are no such events."""
        from cxloop.services.log import timeline_rows

        limit_groups = self.workspace.settings.inline_read_groups
        if not limit_groups:
            return None
        found = timeline_rows.small_timeline_page(
            self.workspace, customer_id, limit, offset, limit_groups
        )
        return found if found is not None and found[1] else None

    def promise_page(
        self, limit: int | None = None, offset: int = 0, **where: str | None
    ) -> tuple[list[Promise], int]:
        """One page of the promise ledger, oldest first, filtered by any of
        :data:`PROMISE_FILTERS`; and how many promises match in all. One customer's
        promises and nothing else: a point read (the ledger's customer-sorted copy)."""
        from cxloop.results.ledger import Promise

        asked = {k: v for k, v in where.items() if v is not None}
        if set(asked) == {"customer_id"}:
            mine = ledger_service.customer_promises(self.workspace, str(asked["customer_id"]))
            end = None if limit is None else offset + limit
            return _typed(Promise, records(mine.iloc[offset:end])), len(mine)
        expr = ledger_service.promises_expr(self.workspace, **where)
        df, total = _paged(expr, limit, offset)
        return _typed(Promise, records(df)), total

    def customer_baselines(self, customer_id: str) -> list[Baseline]:
        """What this customer has come to expect, per promise rule."""
        from cxloop.analytics.reports import BaselineReport, run
        from cxloop.results.ledger import Baseline

        table = ledger_service.promises_table(self.workspace)
        df = run(table, BaselineReport(customer_id=customer_id)).execute()
        return _typed(Baseline, records(df))

    def promise_counts(self, by: str | None = "kind") -> list[PromiseCounts]:
        """Counts and rates per kind, rule, department, state or month (``by``)."""
        from cxloop.analytics.reports import PromiseReport, run
        from cxloop.results.ledger import PromiseCounts

        table = ledger_service.promises_table(self.workspace)
        return _typed(PromiseCounts, records(run(table, PromiseReport(by=by)).execute()))

    def ledger_status(self) -> LedgerStatus:
        """The ledger's build and whether the log has moved on since (``stale``)."""
        from cxloop.results.ledger import LedgerStatus

        return LedgerStatus.model_validate(clean(ledger_service.ledger_status(self.workspace)))

    def build_ledger(self, as_of: datetime | None = None) -> LedgerBuild:
        """Rebuild the promise ledger from the whole log (reads rebuild it when stale)."""
        return ledger_service.build_ledger(self.workspace, as_of)
