"""The dashboard's overview figures in the library: the kept rate per month with its Wilson
interval, broken promises per department, the systemic failures with their cohorts, and
the customers with the most broken promises."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ibis

from cxloop.domain.promises import PromiseState
from cxloop.domain.scores import wilson
from cxloop.library.data import records
from cxloop.results.ledger import PromiseCounts
from cxloop.serialize import clean
from cxloop.services import ledger as ledger_service
from cxloop.services import outreach as outreach_service
from cxloop.services import reads

if TYPE_CHECKING:
    from cxloop.services.workspace import Workspace


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
        exceeded or broken), with a Wilson 95% interval; and the broken ones per department."""
        months = []
        for r in self.promise_counts("month"):
            resolved = int(r.kept + r.exceeded + r.broken)
            if not resolved:
                continue
            low, high = wilson(int(r.kept + r.exceeded), resolved)
            months.append(
                {"month": r.month, "resolved": resolved, "rate": r.kept_rate}
                | {"low": low, "high": high}
            )
        departments: list[dict[str, Any]] = [
            {
                "department": r.department,
                "broken": int(r.broken),
                "resolved": int(r.kept + r.exceeded + r.broken),
                "broken_rate": _float(r.broken_rate),
            }
            for r in self.promise_counts("department")
        ]
        departments.sort(key=lambda d: -d["broken"])
        return {"months": months, "departments": departments}

    def incident_alerts(self) -> list[dict[str, Any]]:
        """Each systemic failure found so far with its cohort: customers affected, how many
        were told already, how many have not complained (yet); the least told first."""
        found = []
        for incident, first, last in reads.incidents_found(self.workspace):
            summary = outreach_service.draft(self.workspace, incident.incident_id).summary()
            sends = outreach_service.send_status(self.workspace, incident.incident_id)
            told = len({s["customer_id"] for s in sends if s["status"] == "sent"})
            found.append(
                summary
                | {
                    "kind": incident.kind,
                    "dimension": incident.dimension,
                    "value": incident.value,
                    "rate": incident.rate,
                    "baseline_rate": incident.baseline_rate,
                    "told": told,
                    "not_told": max(0, int(summary["customers"]) - told),
                    "first_detected_at": first,
                    "last_detected_at": last,
                }
            )
        found.sort(key=lambda d: (-d["not_told"], -d["customers"]))
        return clean(found)  # type: ignore[no-any-return]

    def most_broken(self, limit: int = 25) -> list[dict[str, Any]]:
        """The customers with the most broken promises (a way into their timelines)."""
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
