"""The Python library: ``cx = cxloop.open(".cxloop")`` in a notebook or a script.

A thin layer over the services; results come back as pandas DataFrames, and
``events()`` / ``ledger()`` give the Ibis tables for further analysis.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

from cxloop.analytics.reports import (
    BaselineReport,
    PromiseReport,
    ScoreByStateReport,
    run,
    score_by_state,
)
from cxloop.services import ingest as ingest_service
from cxloop.services import ledger as ledger_service
from cxloop.services.timeline import timeline as customer_timeline
from cxloop.services.workspace import Workspace


class Cxloop:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def home(self) -> Path:
        return self.workspace.home

    def ingest(
        self,
        path: str | Path,
        source: str = "generic",
        progress: ingest_service.Progress | None = None,
        force: bool = False,
    ) -> ingest_service.IngestReport:
        """Load a file or directory through a named mapping (idempotent; unchanged files are
        not read again unless ``force``)."""
        return ingest_service.ingest_path(self.workspace, path, source, progress, force)

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

    def close(self) -> None:
        self.workspace.close()

    def __enter__(self) -> Cxloop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(home: str | Path | None = None, *, rules: str | Path | None = None) -> Cxloop:
    """Open (or create) the store at ``home`` (default: $CXLOOP_HOME or ./.cxloop)."""
    return Cxloop(Workspace.open(home, rules=rules))
