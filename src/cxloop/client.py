"""The Python library: ``cx = cxloop.open(".cxloop")`` in a notebook or a script.

A thin layer over the services; results come back as pandas DataFrames, and
``events()`` / ``ledger()`` give the Ibis tables for further analysis.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pandas as pd

from cxloop.library.brief import BriefMixin
from cxloop.library.cases import CasesMixin
from cxloop.library.data import DataMixin
from cxloop.library.effort import EffortMixin
from cxloop.library.funnels import FunnelsMixin
from cxloop.library.health import HealthMixin
from cxloop.library.journeys import JourneysMixin
from cxloop.library.outcomes import OutcomesMixin
from cxloop.library.outreach import OutreachMixin
from cxloop.library.overview import OverviewMixin
from cxloop.library.remedies import RemediesMixin
from cxloop.library.upkeep import UpkeepMixin
from cxloop.library.voice import VoiceMixin

# (loaded with the library anyway; named in hints that typing.get_type_hints reads)
from cxloop.services.log import ingest as ingest_service
from cxloop.services.voice.analysis import Progress
from cxloop.workspace.workspace import Workspace

if TYPE_CHECKING:
    from cxloop.domain.policy import Policy
    from cxloop.services.brief.refresh import Refreshed


class Cxloop(
    CasesMixin,
    BriefMixin,
    DataMixin,
    OverviewMixin,
    UpkeepMixin,
    FunnelsMixin,
    EffortMixin,
    JourneysMixin,
    OutcomesMixin,
    HealthMixin,
    RemediesMixin,
    VoiceMixin,
    OutreachMixin,
):
    def __init__(self, workspace: Workspace, policy: Policy | None = None) -> None:
        self.workspace = workspace
        self._policy: Policy | None = policy
        self._remedies: tuple[tuple[object, ...], pd.DataFrame] | None = None

    @property
    def policy(self) -> Policy:
        """The empowerment policy (the built-in default unless a file was given)."""
        from cxloop.services.recovery.policy import load_policy

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
        engine: str | None = None,
        refresh: bool | None = None,
    ) -> ingest_service.IngestReport:
        """Load a file or directory through a named mapping, or the mapping file ``mapping``
        (TOML, docs/mappings.md) with its ``params`` (idempotent; unchanged files are not
        read again unless ``force``). ``engine`` (default: the ``ingest_engine`` setting):
        ``embedded``, or ``spark`` for the distributed ingest (generic mapping only). Then,
        when events were added and ``refresh`` (default: the ``refresh`` setting) is on,
        compute what the brief and the dashboard's first page need (docs/refresh.md)."""
        from cxloop.services.log import spark_ingest

        if (engine or self.workspace.settings.ingest_engine) == "spark":
            report = spark_ingest.ingest_path(
                self.workspace, path, source, progress, force, mapping, params
            )
        else:
            report = ingest_service.ingest_path(
                self.workspace, path, source, progress, force, mapping, params
            )
        if report.events_new:
            self.refresh(asked=refresh, progress=progress)
        return report

    def quarantine(self, *, all_loads: bool = False, file: str | None = None) -> pd.DataFrame:
        from cxloop.services.log import listings as reads

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
        from cxloop.services.log.timeline import timeline as customer_timeline

        return customer_timeline(self.workspace, customer_id)

    def ledger(self) -> ir.Table:
        """The promise ledger as an Ibis table (rebuilt first if the log changed)."""
        from cxloop.services.promises import ledger as ledger_service

        return ledger_service.promises_table(self.workspace)

    def promises(self, customer_id: str | None = None) -> pd.DataFrame:
        from cxloop.services.promises import ledger as ledger_service

        if customer_id is not None:  # a point read (docs/point-reads.md)
            return ledger_service.customer_promises(self.workspace, customer_id)
        return ledger_service.promises_expr(self.workspace).execute()

    def promise_report(self, by: str | None = "kind") -> pd.DataFrame:
        from cxloop.analytics.reports import PromiseReport, run

        return run(self.ledger(), PromiseReport(by=by)).execute()

    def baselines(self, customer_id: str | None = None) -> pd.DataFrame:
        from cxloop.analytics.reports import BaselineReport, run

        return run(self.ledger(), BaselineReport(customer_id=customer_id)).execute()

    def score_by_state(self, rule: str = "delivery", score_event: str = "review") -> pd.DataFrame:
        """Mean score (review stars, survey score) of customers per promise state."""
        from cxloop.analytics.reports import ScoreByStateReport, score_by_state

        spec = ScoreByStateReport(rule=rule, score_event=score_event)
        return score_by_state(self.ledger(), self.events(), spec).execute()

    def promise_customers(self, figure: str = "total", **where: str | None) -> pd.DataFrame:
        """The promises (and their customers) behind one figure of :meth:`promise_report`:
        ``promise_customers("broken", department="billing")`` has as many rows as the
        report's ``broken`` in the ``billing`` row of ``promise_report(by="department")``."""
        from cxloop.analytics.drill import promise_cell

        return promise_cell(self.ledger(), figure, where).execute()

    def refresh(
        self, *, asked: bool | None = None, progress: Progress | None = None
    ) -> Refreshed | None:
        """Compute what the brief and the dashboard's first page need for the store as it
        is now (what is ready already is kept); None when ``asked`` is False, or not given
        and the ``refresh`` setting is off (docs/refresh.md)."""
        from cxloop.services.brief import refresh as refresh_service

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
