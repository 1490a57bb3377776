"""Outreach (C4, docs/outreach.md): systemic failures found by the detectors, the
customers each affected, the notices, and sending them (never twice per customer)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxloop.library.reports_base import ReportBase

if TYPE_CHECKING:
    from cxloop.domain.incidents import Incident
    from cxloop.notify.base import Channel
    from cxloop.results.outreach import IncidentDetail, SendReport
    from cxloop.services.incidents.outreach import Draft
    from cxloop.services.incidents.sending import DeliveryReport


class OutreachMixin(ReportBase):
    def detect_incidents(
        self, as_of: datetime | None = None, detectors: str | Path | None = None
    ) -> list[Incident]:
        """Systemic failures found by the detectors (kept in the store; stable ids)."""
        from cxloop.services.incidents import outreach as outreach_service

        path = Path(detectors) if detectors else None
        return outreach_service.detect_incidents(self.workspace, as_of, path)

    def incidents(self) -> list[dict[str, Any]]:
        """Every systemic failure found so far, as JSON-safe rows (the incident's fields
        and when the detectors first and last found it)."""
        from cxloop.services.log import listings as reads

        return reads.incidents(self.workspace)

    def incident(self, incident_id: str) -> Incident:
        """One incident (NotFoundError naming the command that finds them)."""
        from cxloop.services.incidents import outreach as outreach_service

        return outreach_service.get_incident(self.workspace, incident_id)

    def incident_rows(self, found: list[Incident]) -> list[dict[str, Any]]:
        """Incidents as JSON-safe rows (what :meth:`incidents` lists)."""
        from cxloop.services.log import listings as reads

        return [reads.incident_row(i) for i in found]

    def incident_detail(self, incident_id: str) -> IncidentDetail:
        """An incident with its outreach summary: customers, complained or not, addresses."""
        from cxloop.results.outreach import IncidentDetail
        from cxloop.services.incidents import outreach as outreach_service
        from cxloop.services.log import listings as reads

        d = outreach_service.draft(self.workspace, incident_id)
        row = reads.incident_row(d.incident)
        return IncidentDetail.model_validate({"incident": row, "outreach": d.summary()})

    def cohort(self, incident_id: str) -> pd.DataFrame:
        """Every affected customer-fact of an incident, complained or not."""
        from cxloop.services.incidents import outreach as outreach_service

        return outreach_service.draft(self.workspace, incident_id).cohort

    def draft_outreach(self, incident_id: str, templates: str | Path | None = None) -> Draft:
        """One notice per affected customer, from the templates (nothing is sent)."""
        from cxloop.services.incidents import outreach as outreach_service

        path = Path(templates) if templates else None
        return outreach_service.draft(self.workspace, incident_id, path)

    def send_outreach(
        self,
        incident_id: str,
        channel: str | Channel = "email",
        *,
        retry_uncertain: bool = False,
        limit: int | None = None,
    ) -> DeliveryReport:
        """Queue and deliver the incident's notices through ``channel`` ("email",
        "webhook" from the settings, or a Channel); never twice per customer."""
        return self.send_notices(
            incident_id, channel, retry_uncertain=retry_uncertain, limit=limit
        )[1]

    def send_notices(
        self,
        incident_id: str,
        channel: str | Channel = "email",
        *,
        templates: str | Path | None = None,
        retry_uncertain: bool = False,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[SendReport, DeliveryReport]:
        """:meth:`send_outreach` with its templates and a progress callback: the typed
        answer (notices newly queued, sent, failed ...) and the delivery report. An unknown
        channel name fails before any work."""
        from cxloop.results.outreach import SendReport
        from cxloop.services.incidents import outreach as outreach_service
        from cxloop.services.incidents.sending import channel_from_settings

        chan = (
            channel_from_settings(self.workspace.settings, channel)
            if isinstance(channel, str)
            else channel
        )
        queued, report = outreach_service.send(
            self.workspace, incident_id, chan,
            templates=Path(templates) if templates else None,
            retry_uncertain=retry_uncertain, limit=limit, progress=progress,
        )  # fmt: skip
        return SendReport.model_validate({"queued": queued, **report.as_dict()}), report

    def outreach_sends(self, incident_id: str | None = None) -> list[dict[str, Any]]:
        """Every recorded send (or one incident's) as rows: status, attempts, receipt."""
        from cxloop.services.incidents import outreach as outreach_service

        return outreach_service.send_status(self.workspace, incident_id)

    def outreach_status(self, incident_id: str | None = None) -> pd.DataFrame:
        return pd.DataFrame(self.outreach_sends(incident_id))
