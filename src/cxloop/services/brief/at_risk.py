"""The brief's revenue at risk and the at-risk customers worth a call today.

Read from the latest health scoring kept in the store (``cxloop outcomes health`` keeps
it), so the brief stays quick; the brief says when there is none, or when the log changed
since it was made.
"""

from __future__ import annotations

from typing import Any

from cxloop.services.outcomes import health as health_service
from cxloop.workspace.workspace import Workspace


def at_risk(ws: Workspace) -> dict[str, Any]:
    """Revenue at risk, and the riskiest revenue among customers at ``health_call_risk``
    or more (``health_calls`` of them), with their reasons."""
    h = health_service.saved(ws)
    if h is None:
        return {"note": "no health scoring yet: run `cxloop outcomes health`"}
    s = ws.settings
    callable_ = h.rows[h.rows["risk"] >= s.health_call_risk]
    calls = callable_.head(s.health_calls)
    cols = ["customer_id", "risk", "revenue_at_risk", "reasons"]
    return {
        "as_of": h.as_of.isoformat(),
        "horizon_days": h.horizon_days,
        "stale": bool(h.summary.get("stale")),
        "revenue_at_risk": h.summary["revenue_at_risk"],
        "customers": h.summary["customers"],
        "at_or_above_call_risk": len(callable_),
        "call_risk": s.health_call_risk,
        "roc_auc": h.validation.get("roc_auc"),
        "calls": calls[cols].to_dict(orient="records"),
        "note": "the log changed since: run `cxloop outcomes health` again"
        if h.summary.get("stale")
        else "",
    }
