"""Reading cases, approvals and the audit trail: what every edge (library, API, dashboard)
shows, assembled once here rather than by each of them from the store."""

from __future__ import annotations

from typing import Any

from cxloop.errors import NotFoundError
from cxloop.services.recovery.cases import get_case
from cxloop.store.cases import CaseStore
from cxloop.workspace.workspace import Workspace


def list_cases(ws: Workspace, **where: str | None) -> list[dict[str, Any]]:
    """Cases, filtered by any of state, department, owner, customer_id."""
    return CaseStore(ws.state).cases(**where)


def case_detail(ws: Workspace, case_id: str) -> dict[str, Any]:
    """A case with its signals and audit trail (NotFoundError names how to list cases)."""
    store = CaseStore(ws.state)
    return {
        "case": get_case(ws, case_id),
        "signals": store.signals(case_id),
        "audit": store.audit_log(case_id),
    }


def approval(ws: Workspace, approval_id: int) -> dict[str, Any]:
    row = CaseStore(ws.state).approval(approval_id)
    if row is None:
        raise NotFoundError(f"no approval {approval_id} (list them with `cxloop cases approvals`)")
    return row


def approvals(ws: Workspace, pending_only: bool = False) -> list[dict[str, Any]]:
    return CaseStore(ws.state).approvals(pending_only)


def audit(ws: Workspace, case_id: str | None = None) -> list[dict[str, Any]]:
    """The append-only audit trail, of one case or of all."""
    return CaseStore(ws.state).audit_log(case_id)
