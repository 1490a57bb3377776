"""How recovery is going: cases by state, first-contact resolution, time to resolve,
SLA, approval waits and follow-ups (the last from the ledger's ``follow_up`` promises)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from cxloop.domain.cases import ACTIVE_STATES, first_contact_resolved
from cxloop.domain.promises import PromiseState
from cxloop.services.promises.ledger import promises_table
from cxloop.services.recovery.cases import now_utc
from cxloop.store.cases import CaseStore
from cxloop.workspace.workspace import Workspace


def _hours(a: pd.Series, b: pd.Series) -> pd.Series:
    return (pd.to_datetime(b) - pd.to_datetime(a)).dt.total_seconds() / 3600


def _stats(hours: pd.Series) -> dict[str, float | None]:
    h = hours.dropna()
    if h.empty:
        return {"median_hours": None, "p90_hours": None, "max_hours": None}
    return {
        "median_hours": round(float(h.median()), 2),
        "p90_hours": round(float(h.quantile(0.9)), 2),
        "max_hours": round(float(h.max()), 2),
    }


def _case_figures(cases: pd.DataFrame, now: datetime) -> dict[str, Any]:
    active = cases.state.isin([s.value for s in ACTIVE_STATES])
    overdue = active & (pd.to_datetime(cases.sla_due_at) < now)
    done = cases[cases.resolved_at.notna()]
    fcr = done.contacts.fillna(0).astype(int).map(first_contact_resolved)
    in_sla = pd.to_datetime(done.resolved_at) <= pd.to_datetime(done.sla_due_at)
    return {
        "cases": len(cases),
        "by_state": cases.state.value_counts().sort_index().to_dict(),
        "active": int(active.sum()),
        "active_past_sla": int(overdue.sum()),
        "resolved": len(done),
        "first_contact_resolution": round(float(fcr.mean()), 4) if len(done) else None,
        "resolved_within_sla": round(float(in_sla.mean()), 4) if len(done) else None,
        "time_to_resolve": _stats(_hours(done.opened_at, done.resolved_at)),
    }


def _approval_figures(approvals: pd.DataFrame, now: datetime) -> dict[str, Any]:
    if approvals.empty:
        return {"requests": 0, "pending": 0, "decided": {}, "wait": _stats(pd.Series([]))}
    pending = approvals.decision.isna()
    ended = pd.to_datetime(approvals.decided_at).where(~pending, now)
    waits = _hours(approvals.requested_at, ended)
    return {
        "requests": len(approvals),
        "pending": int(pending.sum()),
        "decided": approvals.decision.dropna().value_counts().to_dict(),
        "wait": _stats(waits),
        "wait_total_hours": round(float(waits.sum()), 2),
        "pending_oldest_hours": round(float(waits[pending].max()), 2) if pending.any() else None,
    }


def _follow_ups(ws: Workspace) -> dict[str, int]:
    ledger = promises_table(ws)
    f = ledger.filter(ledger.rule == "follow_up")
    counts = f.group_by("state").aggregate(n=f.count()).execute()
    by = dict(zip(counts.state, counts.n, strict=True))
    return {
        "promised": int(sum(by.values())),
        "made_on_time": int(by.get(PromiseState.KEPT.value, 0))
        + int(by.get(PromiseState.EXCEEDED.value, 0)),
        "missed": int(by.get(PromiseState.BROKEN.value, 0)),
        "due": int(by.get(PromiseState.OPEN.value, 0)) + int(by.get(PromiseState.AT_RISK.value, 0)),
    }


def case_metrics(ws: Workspace, department: str | None = None) -> dict[str, Any]:
    """Figures over every case (or one department's)."""
    store = CaseStore(ws.state)
    now = now_utc(ws)
    cases = pd.DataFrame(store.cases(department=department))
    if cases.empty:
        cases = pd.DataFrame(
            columns=["state", "sla_due_at", "resolved_at", "contacts", "opened_at"]
        )
    approvals = pd.DataFrame(store.approvals())
    if department is not None and not approvals.empty:
        approvals = approvals[approvals.case_id.isin(set(cases.get("case_id", [])))]
    return {
        "as_of": now.isoformat(),
        "department": department,
        **_case_figures(cases, now),
        "approvals": _approval_figures(approvals, now),
        "follow_ups": _follow_ups(ws),
    }
