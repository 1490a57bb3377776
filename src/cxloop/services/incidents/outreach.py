"""Use cases: proactive outreach to the cohort of a systemic failure (C4).

``detect_incidents`` runs the detectors and keeps what they found; ``draft``
turns an incident's cohort into one notice per customer from a template;
``send`` puts the notices in the outbox (one per incident and customer, ever)
and delivers them through a channel. See docs/outreach.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from cxloop.analytics.attrs import attr_text
from cxloop.domain.events import EventType
from cxloop.domain.incidents import Incident
from cxloop.domain.sending import SendStatus
from cxloop.errors import NotFoundError
from cxloop.notify.base import Channel, Notice
from cxloop.services.incidents import detect as detection
from cxloop.services.incidents import notices
from cxloop.services.incidents.sending import DeliveryReport, deliver, enqueue
from cxloop.services.log.internal import event_row, record_events
from cxloop.store.incidents import IncidentStore
from cxloop.store.outbox import Outbox
from cxloop.workspace.workspace import Workspace

PLACEHOLDERS = notices.PLACEHOLDERS


@dataclass(frozen=True)
class Draft:
    """An incident, its cohort (one row per affected fact) and one notice per customer."""

    incident: Incident
    cohort: pd.DataFrame
    notices: tuple[Notice, ...]

    def summary(self) -> dict[str, Any]:
        c = self.cohort
        customers = c.groupby("customer_id")
        return {
            "incident_id": self.incident.incident_id,
            "summary": self.incident.summary,
            "customers": len(self.notices),
            "facts": len(c),
            "with_address": sum(bool(n.address) for n in self.notices),
            "already_complained": int(customers.complained.any().sum()) if len(c) else 0,
            "not_yet_complained": int((~customers.complained.any()).sum()) if len(c) else 0,
            "left_low_review": int(customers.low_review.any().sum()) if len(c) else 0,
        }


def load_templates(path: Path | None = None, language: str = "en") -> dict[str, Any]:
    """Notice templates from a TOML file, or the built-in ones of ``language``."""
    return notices.load_templates(path, language)


def render(text: str, values: dict[str, str], where: str) -> str:
    return notices.render(text, values, where, PLACEHOLDERS)


def detect_incidents(
    ws: Workspace, as_of: datetime | None = None, detectors: Path | None = None
) -> list[Incident]:
    """Run the detectors and keep their incidents (same ids on every run)."""
    found = detection.detect(ws, as_of=as_of, detectors_path=detectors)
    IncidentStore(ws.state).record(found, ws.clock.now().isoformat())
    return found


def get_incident(ws: Workspace, incident_id: str) -> Incident:
    incident = IncidentStore(ws.state).get(incident_id)
    if incident is None:
        raise NotFoundError(
            f"no incident {incident_id!r}; run `cxloop outreach detect` and pick one it lists"
        )
    return incident


def addresses(ws: Workspace, customers: list[str]) -> dict[str, str]:
    """Each customer's latest known e-mail address (``attrs.email`` on any event)."""
    if not customers:
        return {}
    ev = ws.events()
    mine = ev.filter(ev.customer_id.isin(customers)).mutate(email=attr_text(ev.attrs, "email"))
    mine = mine.filter(mine.email.notnull() & (mine.email != ""))
    w = ibis.window(group_by="customer_id", order_by=ibis.desc("ts"))
    latest = mine.mutate(n=ibis.row_number().over(w)).filter(lambda t: t.n == 0)
    frame = latest.select("customer_id", "email").execute()
    return dict(zip(frame.customer_id, frame.email, strict=True))


def _notice(
    incident: Incident,
    customer: str,
    rows: pd.DataFrame,
    address: str,
    writer: notices.FactWriter,
    common: dict[str, str],
) -> Notice:
    rule = str(incident.details.get("spec", {}).get("rule", ""))
    refs = sorted(set(rows.ref.astype(str)))
    fact, money, situation = writer.text(rows, rule)
    where, table = notices.template_for(writer.t, incident, situation)
    values = {
        **common,
        "customer_id": customer,
        "refs": ", ".join(refs),
        "fact": fact,
        "amount": writer.money(money),
    }
    data = {"refs": refs, "kind": incident.kind, "value": incident.value, "amount": money}
    return Notice(
        key=f"{incident.incident_id}/{customer}",
        incident_id=incident.incident_id,
        customer_id=customer,
        address=address,
        subject=render(table["subject"], values, f"{where} subject"),
        body=render(table["body"], values, f"{where} body"),
        data=data | {"currency": writer.currency, "situation": situation},
    )


def _signed(ws: Workspace, templates: dict[str, Any]) -> dict[str, str]:
    """Who signs (the brand setting, else the templates' own) and where to reply."""
    s = ws.settings
    company = s.brand or str(templates.get("company", "") or templates.get("signature", ""))
    contact = s.sender or str(templates.get("contact", "") or s.smtp_sender)
    return {"company": company, "contact": contact, "currency": s.currency}


def draft(
    ws: Workspace,
    incident_id: str,
    templates: Path | None = None,
    exclude: set[tuple[str, str]] | None = None,
) -> Draft:
    """One notice per affected customer (also those who never complained), leaving out the
    (customer, ref) facts in ``exclude`` (already told in another incident's notice)."""
    incident = get_incident(ws, incident_id)
    cohort = detection.cohort(ws, incident)
    settings = ws.settings
    data = load_templates(templates or settings.notice_templates, settings.language)
    writer = notices.FactWriter(data, settings.currency, settings.notice_lost_after)
    last_day = incident.window_end - pd.Timedelta(seconds=1)
    common = {
        "value": incident.value,
        "window_start": f"{incident.window_start:%Y-%m-%d}",
        "window_end": f"{last_day:%Y-%m-%d}",
        **_signed(ws, data),
    }
    todo = cohort
    if exclude:
        pairs = pd.Series(list(zip(cohort.customer_id, cohort.ref.astype(str), strict=True)))
        todo = cohort[~pairs.isin(exclude).to_numpy()]
    mail = addresses(ws, sorted(set(todo.customer_id)))
    drafted = tuple(
        _notice(incident, c, rows, mail.get(c, ""), writer, common)
        for c, rows in todo.groupby("customer_id", sort=True)
    )
    return Draft(incident, cohort, drafted)


def send(
    ws: Workspace,
    incident_id: str,
    channel: Channel,
    *,
    templates: Path | None = None,
    retry_uncertain: bool = False,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, DeliveryReport]:
    """Queue the incident's notices (a customer is queued once per incident, whatever the
    channel) and deliver what is pending; returns (newly queued, delivery report)."""
    drafted = draft(ws, incident_id, templates, told_elsewhere(ws, incident_id)).notices
    queued = enqueue(ws, drafted, channel.name)
    before = _sent_keys(ws, incident_id)
    report = deliver(
        ws,
        channel,
        incident_id=incident_id,
        retry_uncertain=retry_uncertain,
        limit=limit,
        progress=progress,
    )
    _record_sent(ws, incident_id, before)
    return queued, report


def _sent_keys(ws: Workspace, incident_id: str) -> set[str]:
    return {r.key for r in Outbox(ws.state).rows(incident_id, SendStatus.SENT)}


def _record_sent(ws: Workspace, incident_id: str, before: set[str]) -> None:
    """A ``notice_sent`` event per notice this run delivered, so the customer's timeline
    shows that we told them first (ids come from the notice: a retry adds nothing). The
    event is stamped on the store's clock; ``sent_at`` keeps the wall time of the send."""
    now = ws.clock.now()
    rows = [
        event_row(
            f"cx-notice-{r.key}",
            r.customer_id,
            EventType.NOTICE_SENT.value,
            now,
            incident_id,
            channel=r.channel,
            attrs={
                "incident": incident_id,
                "subject": r.subject,
                "refs": r.data.get("refs", []),
                "sent_at": r.sent_at or r.created_at,
            },
        )
        for r in Outbox(ws.state).rows(incident_id, SendStatus.SENT)
        if r.key not in before
    ]
    if rows:
        record_events(ws, f"notices-{incident_id}", rows)


def told_elsewhere(ws: Workspace, incident_id: str) -> set[tuple[str, str]]:
    """(customer, ref) pairs already in a notice of another incident (not failed): an
    order is never the subject of two notices, even when incidents overlap (a carrier in a
    region, and the whole region)."""
    return {
        (r.customer_id, str(ref))
        for r in Outbox(ws.state).rows()
        if r.incident_id != incident_id and r.status.value != "failed"
        for ref in r.data.get("refs", [])
    }


def send_status(ws: Workspace, incident_id: str | None = None) -> list[dict[str, Any]]:
    """Every recorded send (or one incident's): status, attempts, receipt, error."""
    return [r.as_dict() for r in Outbox(ws.state).rows(incident_id=incident_id)]
