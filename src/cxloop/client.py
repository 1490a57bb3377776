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
from cxloop.domain.funnels import build_paths
from cxloop.domain.incidents import Incident
from cxloop.domain.policy import Policy
from cxloop.domain.remedies import Remedy
from cxloop.notify.base import Channel
from cxloop.services import approvals as approval_service
from cxloop.services import brief as brief_service
from cxloop.services import case_reads, churn_table, reads, voice_insights
from cxloop.services import cases as case_service
from cxloop.services import funnels as funnel_service
from cxloop.services import health as health_service
from cxloop.services import ingest as ingest_service
from cxloop.services import ledger as ledger_service
from cxloop.services import outreach as outreach_service
from cxloop.services import recovery as recovery_service
from cxloop.services import refresh as refresh_service  # no cold starts (docs/refresh.md)
from cxloop.services.case_metrics import case_metrics
from cxloop.services.cases import Actor
from cxloop.services.journey_voice import stage_voice
from cxloop.services.journeys import Journeys
from cxloop.services.policy import load_policy
from cxloop.services.sending import DeliveryReport, channel_from_settings
from cxloop.services.timeline import timeline as customer_timeline
from cxloop.services.voice import Progress, Voice
from cxloop.services.workspace import Workspace


class Cxloop:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._policy: Policy | None = None
        self._remedies: tuple[tuple[object, ...], pd.DataFrame] | None = None

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
        refresh: bool | None = None,
    ) -> ingest_service.IngestReport:
        """Load a file or directory through a named mapping, or the mapping file ``mapping``
        (TOML, docs/mappings.md) with its ``params`` (idempotent; unchanged files are not
        read again unless ``force``). Then, when events were added and ``refresh`` (default:
        the ``refresh`` setting) is on, compute what the brief and the dashboard's first page
        need (docs/refresh.md)."""
        report = ingest_service.ingest_path(
            self.workspace, path, source, progress, force, mapping, params
        )
        if report.events_new:
            self.refresh(asked=refresh, progress=progress)
        return report

    def quarantine(self, *, all_loads: bool = False, file: str | None = None) -> pd.DataFrame:
        rows = reads.quarantined(self.workspace, all_loads=all_loads, file=file)
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
        return ledger_service.promises_expr(self.workspace, customer_id=customer_id).execute()

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
        return case_reads.list_cases(self.workspace, **where)

    def case(self, case_id: str) -> dict[str, Any]:
        """A case with its signals and audit trail."""
        return case_reads.case_detail(self.workspace, case_id)

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
        return case_reads.approval(self.workspace, approval_id)

    def decide_approval(
        self, approval_id: int, actor: Actor, approve: bool, note: str = ""
    ) -> dict[str, Any]:
        return approval_service.decide_approval(
            self.workspace, approval_id, actor, self.policy, approve, note
        )

    def approvals(self, pending_only: bool = False) -> list[dict[str, Any]]:
        return case_reads.approvals(self.workspace, pending_only)

    def audit(self, case_id: str | None = None) -> list[dict[str, Any]]:
        return case_reads.audit(self.workspace, case_id)

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

    # ------------------------------------------------------------ funnels and paths (C6)
    def funnel(
        self,
        steps: list[str] | None = None,
        *,
        file: str | Path | None = None,
        order: str | None = None,
        window: str | None = None,
        exclude: list[str] | None = None,
        by: str | None = None,
        conversion_from: str | None = None,
    ) -> funnel_service.FunnelResult:
        """A funnel (steps as on the command line, ``"order_delivered where region=SP
        within 30d"``; or a TOML ``file``; default: the built-in commerce funnel): its
        ``steps`` DataFrame (customers, conversion, dropped per step), ``time_to_convert``,
        ``histogram``, and ``customers`` (the Ibis table of each customer's best attempt)."""
        spec = funnel_service.funnel_from_args(
            list(steps or []),
            file=Path(file) if file is not None else None,
            order=order,
            window=window,
            exclude=exclude,
            by=by,
            conversion_from=conversion_from,
        )
        return funnel_service.run_funnel(self.workspace, spec)

    # -- outcomes: health and churn risk (issue 19, docs/outcomes-churn.md) ------------------

    def health(self, horizon: timedelta | None = None) -> health_service.Health:
        """Every customer's churn risk as of the store's clock (no purchase within
        ``horizon``, default the setting ``health_horizon``), its top reasons, revenue at
        risk, and the time-split validation figures. Kept in the store, and reused while the
        log, the clock, the horizon and the spec stay the same."""
        s = self.workspace.settings
        h = horizon or s.health_horizon
        key = (self.workspace.log.version, self.now(), h, s.health_spec)
        cached = getattr(self, "_health", None)
        if cached is None or cached[0] != key:
            kept = health_service.reusable(self.workspace, h, s.health_spec)
            if kept is None:
                spec = health_service.load_spec(s.health_spec)
                kept = health_service.health(self.workspace, h, spec)
                health_service.save(self.workspace, kept, s.health_spec)
            cached = (key, kept)
            self._health = cached
        result: health_service.Health = cached[1]
        return result

    def churn_fit(
        self, table: str | Path, id_col: str, label: str, model_dir: str | Path, **opts: Any
    ) -> dict[str, Any]:
        """Choose, validate, calibrate and save a churn model for a customer table (CSV or
        Parquet); ``opts``: ``time``, ``positive``, ``drop_leaky``. Returns the held-out
        figures."""
        spec = churn_table.Spec(id_col, label, **opts)
        return churn_table.fit_file(Path(table), spec, Path(model_dir))

    def churn_evaluate(
        self,
        table: str | Path,
        id_col: str,
        label: str,
        model_dir: str | Path | None = None,
        **opts: Any,
    ) -> dict[str, Any]:
        """ROC-AUC, Brier and calibration: of a fresh fit on a held-out part, or of the
        saved model at ``model_dir`` on every row."""
        spec = churn_table.Spec(id_col, label, **opts)
        return churn_table.evaluate_file(Path(table), spec, Path(model_dir) if model_dir else None)

    def churn_predict(self, table: str | Path, model_dir: str | Path, top: int = 3) -> pd.DataFrame:
        """Per row of the table: id, churn probability and the values raising it most."""
        return churn_table.predict_file(Path(table), Path(model_dir), top)

    # -- end outcomes: health and churn risk --------------------------------------------------

    def funnel_dropped(self, result: funnel_service.FunnelResult, step: str) -> pd.DataFrame:
        """The customers who dropped at ``step`` (name or number): as many as its drop."""
        return funnel_service.dropped_customers(result, step)

    def funnel_converted(self, result: funnel_service.FunnelResult) -> pd.DataFrame:
        """The customers who completed the funnel, with their hours to convert."""
        return funnel_service.converted_customers(result)

    def funnel_next(
        self, result: funnel_service.FunnelResult, step: str, steps: int = 3, top: int = 10
    ) -> pd.DataFrame:
        """Where the customers who dropped at ``step`` went next (their next event types)."""
        return funnel_service.after_dropping(result, self.workspace, step, steps, top)

    def paths(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        between: tuple[str, str] | None = None,
        steps: int = 3,
        top: int = 10,
    ) -> pd.DataFrame:
        """The commonest sequences of event types after, before or between steps (each a
        step as on the command line), with the share of customers on each."""
        spec = build_paths(after=after, before=before, between=between, steps=steps, top=top)
        return funnel_service.run_paths(self.workspace, spec)

    def path_customers(
        self,
        rank: int,
        *,
        after: str | None = None,
        before: str | None = None,
        between: tuple[str, str] | None = None,
        steps: int = 3,
    ) -> pd.DataFrame:
        """The customers on the path at ``rank`` of :meth:`paths`."""
        spec = build_paths(after=after, before=before, between=between, steps=steps, top=rank)
        return funnel_service.path_customers(self.workspace, spec, rank)

    # ------------------------------------------------------------ effort per issue (C6)
    def effort_issues_expr(self) -> ir.Table:
        """The per-issue effort rows as an Ibis table on the store's engine."""
        from cxloop.services import effort as effort_service

        return effort_service.issues_expr(self.workspace)

    def effort_issues(
        self, by: str | None = None, value: str | None = None, flag: str | None = None
    ) -> pd.DataFrame:
        """One row per issue (contacts grouped across channels, docs/effort.md); with ``by``
        and ``value`` (and a ``flag``) only the issues behind that figure."""
        from cxloop.services import effort as effort_service

        return effort_service.drill(effort_service.issues(self.workspace), by, value, flag)

    def effort(self, by: str | None = None) -> pd.DataFrame:
        """Effort distributions (counts, rates, median and p90) by department, channel,
        team or month (``by``), or over all issues."""
        from cxloop.services import effort as effort_service

        return effort_service.distribution(effort_service.issues(self.workspace), by)

    def effort_customers(
        self, by: str | None = None, value: str | None = None, flag: str | None = None
    ) -> pd.DataFrame:
        """The customers behind an effort figure, with their issues, contacts and waits."""
        from cxloop.services import effort as effort_service

        return effort_service.customers(self.effort_issues(by, value, flag))

    # ------------------------------------------------------------ end effort
    # ------------------------------------------------------------ outcomes: retention (C7)
    def retention(
        self, period: str = "month", by: str | None = None, *, cohorts: bool = False
    ) -> pd.DataFrame:
        """Retention by first-purchase cohort (``period``: month or week): pooled per offset,
        or per cohort with ``cohorts``; ``by``: ``promise`` (first promise outcome),
        ``channel``, ``department`` or an attribute of the first purchase."""
        from cxloop.services import retention as rs

        if cohorts:
            return rs.cohort_table(self.workspace, period, by)
        return rs.retention_curve(self.workspace, period, by)

    def retention_customers(
        self,
        offset: int,
        period: str = "month",
        by: str | None = None,
        cohort: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """The customers behind a retention figure (active ``offset`` periods later)."""
        from cxloop.services import retention as rs

        return rs.retention_customers(self.workspace, offset, period, by, cohort, segment)

    def repeat_purchase(self, by: str | None = None) -> pd.DataFrame:
        """Repeat purchase (split orders merged) per segment, with windows and intervals."""
        from cxloop.services import retention as rs

        return rs.repeat_purchase(self.workspace, by)

    def repeat_customers(self, by: str | None = None, segment: str | None = None) -> pd.DataFrame:
        from cxloop.services import retention as rs

        return rs.repeat_customers(self.workspace, by, segment)

    def lifecycle(self, period: str = "month", by: str | None = None) -> pd.DataFrame:
        """Customers new, returning, resurrecting and dormant per period."""
        from cxloop.services import retention as rs

        return rs.lifecycle(self.workspace, period, by)

    def lifecycle_customers(
        self,
        at: str,
        state: str,
        period: str = "month",
        by: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        from cxloop.services import retention as rs

        return rs.lifecycle_customers(self.workspace, at, state, period, by, segment)

    def promise_value(self, contrast: str = "broken", seed: int = 0) -> dict[str, Any]:
        """The doubly robust effect of a first broken (or exceeded) promise on repeat
        purchase, revenue and review score, beside the naive difference."""
        from cxloop.services import promise_value as pv

        return pv.promise_value(self.workspace, contrast, seed)

    def promise_value_customers(
        self, contrast: str = "broken", window: str | None = None
    ) -> pd.DataFrame:
        from cxloop.services import promise_value as pv

        return pv.promise_value_customers(self.workspace, contrast, window)

    # ------------------------------------------------------------ end outcomes: retention
    # ------------------------------------------------------------ journeys (C6)
    def journeys(self, as_of: datetime | None = None) -> Journeys:
        """The journeys of every customer (stages: the ``journeys`` setting's file, else
        the built-in commerce stages); ``with cx.journeys() as j: j.stage_map()``."""
        return Journeys(self.workspace, as_of)

    def journey_map(self, voice: Voice | None = None) -> pd.DataFrame:
        """One row per stage: customers reaching it, median hours from the stage it
        follows, drop-offs, scores; with ``voice``, texts, sentiment and keywords too."""
        with self.journeys() as j:
            df = j.stage_map()
            if voice is not None:
                df = df.merge(stage_voice(j, voice), on="stage", how="left")
            return df

    def journey_path(self, customer_id: str) -> pd.DataFrame:
        with self.journeys() as j:
            return j.path(customer_id)

    def journey_scores(self) -> pd.DataFrame:
        with self.journeys() as j:
            return j.stage_scores()

    def journey_tanks(self, outcome: str | None = None, fdr: float = 0.05) -> pd.DataFrame:
        """Where it tanks: per stage, the factors that go with dropping off or a low score."""
        with self.journeys() as j:
            return j.tanks(outcome, fdr)

    def journey_customers(
        self, stage: str, which: str = "reached", factor: str | None = None
    ) -> pd.DataFrame:
        """The customers behind a journey figure (``reached``, ``dropped``, ``low score``
        at ``stage``; with ``factor``, those who also had it)."""
        with self.journeys() as j:
            return j.customers(stage, which, factor)

    # --- which remedies won customers back (issue 19, docs/outcomes-remedies.md) ----------
    def remedies_failures(self) -> pd.DataFrame:
        """Each customer's first broken promise of each kind: the pre-failure history, the
        remedy it got and its amount band, retained/observed per horizon."""
        from cxloop.services.remedies_report import frame_of

        key = (self.workspace.log.version, self.now())
        if self._remedies is None or self._remedies[0] != key:
            self._remedies = (key, frame_of(self.workspace, self.policy))
        return self._remedies[1].copy()

    def remedies_uplift(self, horizon: int | None = None, kind: str | None = None) -> pd.DataFrame:
        """Uplift on retention per failure kind, remedy and amount band (cut at the policy's
        limits) against the same kind's failures that got nothing, with 95% intervals."""
        from cxloop.services.remedies import check_horizon, rules_of
        from cxloop.services.remedies_report import uplift_table

        rules = rules_of(self.workspace)
        h = check_horizon(rules, horizon)
        return uplift_table(self.remedies_failures(), self.policy, rules, h, kind)

    def remedies_policy(self, horizon: int | None = None, kind: str | None = None) -> list[str]:
        """What the bands say about the empowerment policy's limits, one sentence each."""
        from cxloop.services.remedies_report import policy_reading

        table = self.remedies_uplift(horizon, kind)
        return policy_reading(table, self.policy.currency)

    def remedies_qini(self, kind: str, remedy: str, horizon: int | None = None) -> dict[str, Any]:
        """The Qini curve of a two-model uplift score for ``remedy`` vs nothing on ``kind``
        failures: ``share``, ``gain``, ``coefficient`` (or ``note`` saying why not)."""
        from cxloop.services.remedies import check_horizon, qini_for, rules_of

        rules = rules_of(self.workspace)
        h = check_horizon(rules, horizon)
        found = qini_for(self.remedies_failures(), kind, remedy, h, rules)
        head = {"kind": kind, "remedy": remedy, "horizon_days": h}
        if isinstance(found, str):
            return head | {"note": found, "share": [], "gain": [], "coefficient": None}
        return head | {
            "note": "",
            "share": list(found.share),
            "gain": list(found.gain),
            "coefficient": found.coefficient,
        }

    def remedies_customers(
        self,
        kind: str,
        remedy: str,
        band: str = "any",
        horizon: int | None = None,
        group: str = "treated",
    ) -> pd.DataFrame:
        """The failures behind one uplift figure: ``group`` treated or control."""
        from cxloop.services.remedies import rules_of
        from cxloop.services.remedies_report import customers

        rules = rules_of(self.workspace)
        return customers(self.remedies_failures(), rules, kind, remedy, band, horizon, group)

    # --- end of remedies --------------------------------------------------------------------
    def refresh(
        self, *, asked: bool | None = None, progress: Progress | None = None
    ) -> refresh_service.Refreshed | None:
        """Compute what the brief and the dashboard's first page need for the store as it
        is now (what is ready already is kept); None when ``asked`` is False, or not given
        and the ``refresh`` setting is off (docs/refresh.md)."""
        if not refresh_service.refresh_enabled(self.workspace, asked):
            return None
        return refresh_service.refresh(self.workspace, progress=progress)

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
