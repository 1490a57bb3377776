"""What the edges (library, API, dashboard) list from the store besides cases: ingest
runs, the quarantine, the incidents found so far and the actions on brief items. Cases,
approvals and the audit trail are read in :mod:`cxloop.services.recovery.reads`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cxloop.domain.incidents import Incident
from cxloop.serialize import clean
from cxloop.store.brief import BriefActions
from cxloop.store.incidents import IncidentStore
from cxloop.workspace.workspace import Workspace


def ingest_runs(ws: Workspace) -> list[dict[str, Any]]:
    """Ingest runs, newest first."""
    return list(reversed(ws.state.runs()))


def quarantined(
    ws: Workspace, *, all_loads: bool = False, file: str | None = None
) -> list[dict[str, Any]]:
    """Quarantined rows (of the current loads unless ``all_loads``), of one file or all."""
    return ws.state.quarantined(current_only=not all_loads, file=file)


def incident_row(
    incident: Incident, first: str | None = None, last: str | None = None
) -> dict[str, Any]:
    """An incident as JSON-safe data; with when the detectors first and last found it."""
    row = asdict(incident)
    if first is not None:
        row |= {"first_detected_at": first, "last_detected_at": last}
    return clean(row)  # type: ignore[no-any-return]


def incidents_found(ws: Workspace) -> list[tuple[Incident, str, str]]:
    """Every systemic failure found so far, with when it was first and last detected."""
    return IncidentStore(ws.state).all()


def incidents(ws: Workspace) -> list[dict[str, Any]]:
    """Every systemic failure found so far, as rows (see :func:`incident_row`)."""
    return [incident_row(i, first, last) for i, first, last in incidents_found(ws)]


def brief_actions(ws: Workspace) -> list[dict[str, Any]]:
    """Actions recorded on brief items (append-only), with the item's figures then."""
    return BriefActions(ws.state).all()
