"""The figures of the dashboard's first page besides the brief: the promise kept rate by
month and the broken promises by department, monthly NPS, the systemic failures found so
far. Services (not the API) so that :mod:`cxloop.services.brief.refresh` can compute them after
an ingest, before anyone opens the page."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from cxloop.domain.scores import wilson
from cxloop.serialize import clean
from cxloop.workspace.workspace import Workspace


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records (ISO times, NaN as None)."""
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))  # type: ignore[no-any-return]


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def promise_figures(ws: Workspace) -> dict[str, Any]:
    """The kept rate per month (of promises due that month, among those resolved: kept,
    exceeded or broken), with a Wilson 95% interval; and the broken ones per department."""
    from cxloop.analytics.reports import PromiseReport, run
    from cxloop.services.promises import ledger as ledger_service

    table = ledger_service.promises_table(ws)
    months = []
    for r in records(run(table, PromiseReport(by="month")).execute()):
        resolved = int(r["kept"] + r["exceeded"] + r["broken"])
        if not resolved:
            continue
        low, high = wilson(int(r["kept"] + r["exceeded"]), resolved)
        months.append(
            {"month": r["month"], "resolved": resolved, "rate": r["kept_rate"]}
            | {"low": low, "high": high}
        )
    departments = [
        {
            "department": r["department"],
            "broken": int(r["broken"]),
            "resolved": int(r["kept"] + r["exceeded"] + r["broken"]),
            "broken_rate": _float(r["broken_rate"]),
        }
        for r in records(run(table, PromiseReport(by="department")).execute())
    ]
    departments.sort(key=lambda d: -d["broken"])
    return {"months": months, "departments": departments}


def nps_by_month(ws: Workspace) -> list[dict[str, Any]]:
    """Monthly NPS with its 95% interval."""
    from cxloop.services.voice.analysis import Voice

    return records(Voice(ws).scores(by="month", metric="nps").reset_index(drop=True))


def incident_alerts(ws: Workspace) -> list[dict[str, Any]]:
    """Each systemic failure found so far with its cohort: customers affected, how many
    were told already, how many have not complained (yet)."""
    from cxloop.services.incidents import outreach as outreach_service
    from cxloop.services.log import listings as reads

    found = []
    for incident, first, last in reads.incidents_found(ws):
        summary = outreach_service.draft(ws, incident.incident_id).summary()
        sends = outreach_service.send_status(ws, incident.incident_id)
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
