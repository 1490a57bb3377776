"""The Python library: ``cx = cxloop.open(".cxloop")`` in a notebook or a script.

A thin layer over the services; results come back as pandas DataFrames, and
``events()`` / ``ledger()`` give the Ibis tables for further analysis.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from cxloop.analytics.drill import promise_cell
from cxloop.analytics.reports import (
    BaselineReport,
    PromiseReport,
    ScoreByStateReport,
    run,
    score_by_state,
)
from cxloop.domain.cases import SignalRules
from cxloop.domain.incidents import Incident
from cxloop.domain.policy import Policy
from cxloop.domain.remedies import Remedy
from cxloop.notify.base import Channel
from cxloop.services import approvals as approval_service
from cxloop.services import brief as brief_service
from cxloop.services import cases as case_service
from cxloop.services import ingest as ingest_service
from cxloop.services import ledger as ledger_service
from cxloop.services import outreach as outreach_service
from cxloop.services import recovery as recovery_service
from cxloop.services import voice_insights
from cxloop.services.case_metrics import case_metrics
from cxloop.services.cases import Actor
from cxloop.services.policy import load_policy
from cxloop.services.sending import DeliveryReport, channel_from_settings
from cxloop.services.timeline import timeline as customer_timeline
from cxloop.services.voice import Progress, Voice
from cxloop.services.workspace import Workspace
from cxloop.store.cases import CaseStore


class Cxloop:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._policy: Policy | None = None

    @property
    def policy(self) -> Policy:
        """The empowerment policy (the built-in default unless a file was given)."""
        if self._policy is None:
            self._policy = load_policy(
                self.workspace.settings.policy, self.workspace.settings.currency
            )
        return self._policy

    @property
    def home(self) -> Path:
        return self.workspace.home

    def ingest(
        self,
        path: str | Path,
        source: str = "generic",
        progress: ingest_service.Progress | None = None,
        force: bool = False,
        *,
        mapping: str | Path | None = None,
        params: dict[str, str] | None = None,
    ) -> ingest_service.IngestReport:
        """Load a file or directory through a named mapping, or the mapping file ``mapping``
        (TOML, docs/mappings.md) with its ``params`` (idempotent; unchanged files are not
        read again unless ``force``)."""
        return ingest_service.ingest_path(
            self.workspace, path, source, progress, force, mapping, params
        )

    def quarantine(self, *, all_loads: bool = False, file: str | None = None) -> pd.DataFrame:
        rows = self.workspace.state.quarantined(current_only=not all_loads, file=file)
        return pd.DataFrame(
            rows,
            columns=[
                "id",
                "ingest_id",
                "source",
                "file",
                "file_sha256",
                "row",
                "field",
                "reason",
                "value",
                "record",
            ],
        )

    def now(self) -> datetime:
        """The store's now (its clock): what actions are stamped with, reports are as of."""
        return self.workspace.clock.now()

    def events(self) -> ir.Table:
        return self.workspace.events()

    def timeline(self, customer_id: str) -> pd.DataFrame:
        return customer_timeline(self.workspace, customer_id)

    def build_ledger(self, as_of: datetime | None = None) -> ledger_service.LedgerBuild:
        return ledger_service.build_ledger(self.workspace, as_of)

    def ledger(self) -> ir.Table:
        """The promise ledger as an Ibis table (rebuilt first if the log changed)."""
        return ledger_service.promises_table(self.workspace)

    def promises(self, customer_id: str | None = None) -> pd.DataFrame:
        t = self.ledger()
        if customer_id is not None:
            t = t.filter(t.customer_id == customer_id)
        return t.order_by(["opened_at", "promise_id"]).execute()

    def promise_report(self, by: str | None = "kind") -> pd.DataFrame:
        return run(self.ledger(), PromiseReport(by=by)).execute()

    def baselines(self, customer_id: str | None = None) -> pd.DataFrame:
        return run(self.ledger(), BaselineReport(customer_id=customer_id)).execute()

    def score_by_state(self, rule: str = "delivery", score_event: str = "review") -> pd.DataFrame:
        """Mean score (review stars, survey score) of customers per promise state."""
        spec = ScoreByStateReport(rule=rule, score_event=score_event)
        return score_by_state(self.ledger(), self.events(), spec).execute()

    def promise_customers(self, figure: str = "total", **where: str | None) -> pd.DataFrame:
        """The promises (and their customers) behind one figure of :meth:`promise_report`:
        ``promise_customers("broken", department="billing")`` has as many rows as the
        report's ``broken`` in the ``billing`` row of ``promise_report(by="department")``."""
        return promise_cell(self.ledger(), figure, where).execute()

    # ------------------------------------------------------------ recovery (C3)
    def sync_cases(
        self, rules: SignalRules | None = None, as_of: datetime | None = None
    ) -> case_service.SyncReport:
        """Raise cases from the current signals (safe to re-run)."""
        return case_service.sync_cases(self.workspace, rules, as_of)

    def cases(self, **where: str | None) -> list[dict[str, Any]]:
        """Cases, filtered by any of state, department, owner, customer_id."""
        return self._store().cases(**where)

    def case(self, case_id: str) -> dict[str, Any]:
        """A case with its signals and audit trail."""
        case = case_service.get_case(self.workspace, case_id)
        return {
            "case": case,
            "signals": self._store().signals(case_id),
            "audit": self._store().audit_log(case_id),
        }

    def start_case(self, case_id: str, actor: Actor, owner: str | None = None) -> dict[str, Any]:
        return case_service.start(self.workspace, case_id, actor, owner, self.policy)

    def assign_case(
        self, case_id: str, actor: Actor, owner: str, department: str | None = None
    ) -> dict[str, Any]:
        return case_service.assign(self.workspace, case_id, actor, owner, department, self.policy)

    def resolve_case(
        self,
        case_id: str,
        actor: Actor,
        note: str,
        follow_up_in: timedelta = case_service.FOLLOW_UP_AFTER,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        return case_service.resolve(self.workspace, case_id, actor, note, follow_up_in, at)

    def follow_up_case(
        self, case_id: str, actor: Actor, note: str, at: datetime | None = None
    ) -> dict[str, Any]:
        return case_service.follow_up(self.workspace, case_id, actor, note, at)

    def recover(self, case_id: str, role: str = "agent") -> recovery_service.Advice:
        """The recommended remedy for a case, judged by the policy for ``role``."""
        return recovery_service.advise(self.workspace, case_id, role, self.policy)

    def grant(
        self, case_id: str, remedy: Remedy | str, amount: float, actor: Actor, note: str = ""
    ) -> dict[str, Any]:
        decision = approval_service.grant(
            self.workspace, case_id, Remedy(remedy), amount, actor, self.policy, note
        )
        return asdict(decision)

    def request_approval(
        self, case_id: str, remedy: Remedy | str, amount: float, actor: Actor, note: str = ""
    ) -> dict[str, Any]:
        approval_id = approval_service.request_approval(
            self.workspace, case_id, Remedy(remedy), amount, actor, self.policy, note
        )
        row = self._store().approval(approval_id)
        assert row is not None
        return row

    def decide_approval(
        self, approval_id: int, actor: Actor, approve: bool, note: str = ""
    ) -> dict[str, Any]:
        return approval_service.decide_approval(
            self.workspace, approval_id, actor, self.policy, approve, note
        )

    def approvals(self, pending_only: bool = False) -> list[dict[str, Any]]:
        return self._store().approvals(pending_only)

    def audit(self, case_id: str | None = None) -> list[dict[str, Any]]:
        return self._store().audit_log(case_id)

    def case_metrics(self, department: str | None = None) -> dict[str, Any]:
        return case_metrics(self.workspace, department)

    # ------------------------------------------------------------ outreach (C4)
    def detect_incidents(
        self, as_of: datetime | None = None, detectors: str | Path | None = None
    ) -> list[Incident]:
        """Systemic failures found by the detectors (kept in the store; stable ids)."""
        path = Path(detectors) if detectors else None
        return outreach_service.detect_incidents(self.workspace, as_of, path)

    def cohort(self, incident_id: str) -> pd.DataFrame:
        """Every affected customer-fact of an incident, complained or not."""
        return outreach_service.draft(self.workspace, incident_id).cohort

    def draft_outreach(
        self, incident_id: str, templates: str | Path | None = None
    ) -> outreach_service.Draft:
        """One notice per affected customer, from the templates (nothing is sent)."""
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
        chan = (
            channel_from_settings(self.workspace.settings, channel)
            if isinstance(channel, str)
            else channel
        )
        _, report = outreach_service.send(
            self.workspace, incident_id, chan, retry_uncertain=retry_uncertain, limit=limit
        )
        return report

    def outreach_status(self, incident_id: str | None = None) -> pd.DataFrame:
        return pd.DataFrame(outreach_service.send_status(self.workspace, incident_id))

    def voice(
        self, sentiment: str = "auto", k: int | None = None, progress: Progress | None = None
    ) -> Voice:
        """Voice analytics on a snapshot of the log: ``.scores(by=...)``, ``.sentiment``,
        ``.topics()``; pass it to :meth:`voice_emerging`, :meth:`voice_drivers`,
        :meth:`voice_compare`."""
        return Voice(self.workspace, sentiment=sentiment, k=k, progress=progress)

    def voice_scores(self, by: str | None = None, metric: str | None = None) -> pd.DataFrame:
        return self.voice().scores(by=by, metric=metric)

    def voice_topics(self, k: int | None = None) -> pd.DataFrame:
        return self.voice(k=k).topics()

    def voice_emerging(
        self,
        period: timedelta = timedelta(days=28),
        baseline: timedelta | None = timedelta(days=168),
        voice: Voice | None = None,
        as_of: datetime | None = None,
    ) -> pd.DataFrame:
        return voice_insights.emerging(voice or self.voice(), period, baseline, as_of=as_of)

    def voice_drivers(self, metric: str | None = None, voice: Voice | None = None) -> pd.DataFrame:
        return voice_insights.drivers(voice or self.voice(), metric)

    def voice_compare(
        self, subjects: Path | None = None, voice: Voice | None = None
    ) -> pd.DataFrame:
        return voice_insights.compare(voice or self.voice(), subjects)

    def brief(
        self,
        voice: Voice | None = None,
        *,
        as_of: datetime | None = None,
        detectors: Path | None = None,
    ) -> dict[str, Any]:
        """The daily brief as of ``as_of`` (default: the latest event): what customers say,
        what employees say, the one thing to do (ranked candidates with their customers and
        cases), past actions' effect."""
        return brief_service.brief(self.workspace, voice, as_of=as_of, detectors=detectors)

    def brief_act(
        self,
        key: str,
        note: str,
        actor: str,
        *,
        as_of: datetime | None = None,
        detectors: Path | None = None,
    ) -> dict[str, Any]:
        """Record what was done about a brief item; later briefs rank it below the others
        until its figures change, and show its effect."""
        return brief_service.act(self.workspace, key, note, actor, as_of=as_of, detectors=detectors)

    def _store(self) -> CaseStore:
        return CaseStore(self.workspace.state)

    def close(self) -> None:
        self.workspace.close()

    def __enter__(self) -> Cxloop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(
    home: str | Path | None = None,
    *,
    rules: str | Path | None = None,
    policy: str | Path | None = None,
    as_of: datetime | str | None = None,
    **settings: object,
) -> Cxloop:
    """Open (or create) the store at ``home`` (default: $CXLOOP_HOME or ./.cxloop).
    ``policy``: the empowerment policy file (default: the built-in policy).
    ``as_of``: the store's clock for this handle: a time, ``"data"`` or ``"wall"``
    (default: the ``clock`` setting, $CXLOOP_CLOCK, else ``data``); every action is
    stamped with it and every report is as of it (``cx.now()``). Any other setting by name
    (``metrics=``, ``currency=``, ``language=``, ``brand=`` ..., docs/settings.md)
    overrides its environment variable."""
    clock = as_of.isoformat() if isinstance(as_of, datetime) else as_of
    return Cxloop(Workspace.open(home, rules=rules, policy=policy, clock=clock, **settings))
