"""The dashboard's overview figures in the library: the kept rate per month with its Wilson
interval, broken promises per department, the systemic failures with their cohorts, and
the customers with the most broken promises."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ibis

from cxloop.domain.promises import PromiseState
from cxloop.library.data import records

if TYPE_CHECKING:
    from cxloop.results.ledger import PromiseCounts
    from cxloop.workspace.workspace import Workspace


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


class OverviewMixin:
    """The overview's methods of :class:`cxloop.Cxloop`."""

    workspace: Workspace

    if TYPE_CHECKING:

        def promise_counts(self, by: str | None = "kind") -> list[PromiseCounts]: ...

    def promise_figures(self) -> dict[str, Any]:
        """The kept rate per month (of promises due that month, among those resolved: kept,
        exceeded or broken), with a Wilson 95% interval; and the broken ones per department
        (what the refresh after an ingest keeps for the dashboard's first page)."""
        from cxloop.services.brief import overview as overview_service

        return overview_service.promise_figures(self.workspace)

    def incident_alerts(self) -> list[dict[str, Any]]:
        """Each systemic failure found so far with its cohort: customers affected, how many
        were told already, how many have not complained (yet); the least told first."""
        from cxloop.services.brief import overview as overview_service

        return overview_service.incident_alerts(self.workspace)

    def most_broken(self, limit: int = 25) -> list[dict[str, Any]]:
        """The customers with the most broken promises (a way into their timelines)."""
        from cxloop.services.promises import ledger as ledger_service

        t = ledger_service.promises_table(self.workspace)
        broken = t.state == PromiseState.BROKEN.value
        top = (
            t.group_by("customer_id")
            .aggregate(
                promises=t.count(),
                broken=broken.sum().cast("int64"),
                last_broken_due=t.due_at.max(where=broken),
            )
            .filter(lambda r: r.broken > 0)
            .order_by([ibis.desc("broken"), "customer_id"])
            .limit(limit)
        )
        return records(top.execute(), ())
