"""Outcomes: churn risk from the log (health) and churn models for a customer table
(issue 19, docs/outcomes-churn.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxloop.errors import NotFoundError
from cxloop.library.reports_base import ReportBase

if TYPE_CHECKING:
    from cxloop.services.outcomes.health import Health


class HealthMixin(ReportBase):
    def health(self, horizon: timedelta | None = None) -> Health:
        """Every customer's churn risk as of the store's clock (no purchase within
        ``horizon``, default the setting ``health_horizon``), its top reasons, revenue at
        risk, and the time-split validation figures (``.report()``: the typed summary).
        Kept in the store, and reused while the log, the clock, the horizon and the spec
        stay the same."""
        from cxloop.services.outcomes import health as health_service

        s = self.workspace.settings
        h = horizon or s.health_horizon
        key = (self.workspace.log.version, self.now(), h, s.health_spec)
        cached = getattr(self, "_health", None)
        if cached is None or cached[0] != key:
            kept = health_service.reusable(self.workspace, h, s.health_spec)
            if kept is None:
                kept = self.score_health(h)
            cached = (key, kept)
            self._health = cached
        result: Health = cached[1]
        return result

    def score_health(self, horizon: timedelta | None = None) -> Health:
        """Score every customer again as of the store's clock (a model fit) and keep it."""
        from cxloop.services.outcomes import health as health_service

        s = self.workspace.settings
        spec = health_service.load_spec(s.health_spec)
        found = health_service.health(self.workspace, horizon or s.health_horizon, spec)
        health_service.save(self.workspace, found, s.health_spec)
        return found

    def saved_health(self) -> Health:
        """The latest scoring kept in the store, without scoring (its ``summary["stale"]``
        tells whether the log changed since); NotFoundError when there is none."""
        from cxloop.services.outcomes import health as health_service

        found = health_service.saved(self.workspace)
        if found is None:
            raise NotFoundError(
                "no health scoring yet: POST /api/v1/outcomes/health, "
                "or run `cxloop outcomes health`"
            )
        return found

    def risk_bands(self, health: Health, bins: int = 10) -> pd.DataFrame:
        """Customers and revenue at risk per risk band (``bins`` bands of equal width)."""
        from cxloop.services.outcomes import health as health_service

        return health_service.distribution(health.rows, bins)

    @staticmethod
    def churn_fit(
        table: str | Path, id_col: str, label: str, model_dir: str | Path, **opts: Any
    ) -> dict[str, Any]:
        """Choose, validate, calibrate and save a churn model for a customer table (CSV or
        Parquet); ``opts``: ``time``, ``positive``, ``drop_leaky``. Returns the held-out
        figures. Needs no store: ``cxloop.Cxloop.churn_fit(...)``."""
        from cxloop.services.outcomes import churn_table

        spec = churn_table.Spec(id_col, label, **opts)
        return churn_table.fit_file(Path(table), spec, Path(model_dir))

    @staticmethod
    def churn_evaluate(
        table: str | Path,
        id_col: str,
        label: str,
        model_dir: str | Path | None = None,
        **opts: Any,
    ) -> dict[str, Any]:
        """ROC-AUC, Brier and calibration: of a fresh fit on a held-out part, or of the
        saved model at ``model_dir`` on every row."""
        from cxloop.services.outcomes import churn_table

        spec = churn_table.Spec(id_col, label, **opts)
        return churn_table.evaluate_file(Path(table), spec, Path(model_dir) if model_dir else None)

    @staticmethod
    def churn_predict(table: str | Path, model_dir: str | Path, top: int = 3) -> pd.DataFrame:
        """Per row of the table: id, churn probability and the values raising it most."""
        from cxloop.services.outcomes import churn_table

        return churn_table.predict_file(Path(table), Path(model_dir), top)
