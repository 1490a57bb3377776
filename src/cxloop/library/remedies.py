"""Which remedies won customers back (issue 19, docs/outcomes-remedies.md): uplift per
failure kind, remedy and amount band, the policy reading, the Qini curve, the failures
behind each figure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeAlias

import pandas as pd

from cxloop.library.reports_base import ReportBase

if TYPE_CHECKING:
    from cxloop.results.outcomes import Qini, RemediesReport

Failures: TypeAlias = pd.DataFrame | None


class RemediesMixin(ReportBase):
    _remedies: tuple[tuple[object, ...], pd.DataFrame] | None

    def remedies_failures(self) -> pd.DataFrame:
        """Each customer's first broken promise of each kind: the pre-failure history, the
        remedy it got and its amount band, retained/observed per horizon. (Every remedies
        method below takes it as ``failures``, to reuse one computed before.)"""
        from cxloop.services.outcomes.remedies_report import frame_of

        key = (self.workspace.log.version, self.now())
        kept = getattr(self, "_remedies", None)
        if kept is None or kept[0] != key:
            kept = (key, frame_of(self.workspace, self.policy))
            self._remedies = kept
        return kept[1].copy()

    def remedies_horizon(self, horizon: int | None = None) -> int:
        """The horizon in days (default the first of the remedies rules; another that the
        rules do not list is a ConfigError)."""
        from cxloop.services.outcomes.remedies import check_horizon, rules_of

        return check_horizon(rules_of(self.workspace), horizon)

    def remedies_uplift(
        self, horizon: int | None = None, kind: str | None = None, *, failures: Failures = None
    ) -> pd.DataFrame:
        """Uplift on retention per failure kind, remedy and amount band (cut at the policy's
        limits) against the same kind's failures that got nothing, with 95% intervals."""
        from cxloop.services.outcomes.remedies import check_horizon, rules_of
        from cxloop.services.outcomes.remedies_report import uplift_table

        rules = rules_of(self.workspace)
        h = check_horizon(rules, horizon)
        found = self.remedies_failures() if failures is None else failures
        return uplift_table(found, self.policy, rules, h, kind)

    def remedies_policy(self, horizon: int | None = None, kind: str | None = None) -> list[str]:
        """What the bands say about the empowerment policy's limits, one sentence each."""
        return self.remedies_reading(self.remedies_uplift(horizon, kind))

    def remedies_reading(self, table: pd.DataFrame) -> list[str]:
        """The policy reading of an uplift table (:meth:`remedies_uplift`)."""
        from cxloop.services.outcomes.remedies_report import policy_reading

        return policy_reading(table, self.policy.currency)

    def remedies_report(
        self, horizon: int | None = None, kind: str | None = None, *, failures: Failures = None
    ) -> RemediesReport:
        """The uplift table with its horizon and policy reading, as one typed result."""
        from cxloop.results.outcomes import RemediesReport

        h = self.remedies_horizon(horizon)
        table = self.remedies_uplift(h, kind, failures=failures)
        rows = json.loads(table.to_json(orient="records", date_format="iso", date_unit="s"))
        reading = self.remedies_reading(table)
        return RemediesReport.model_validate(
            {"horizon_days": h, "policy_reading": reading, "rows": rows}
        )

    def remedies_qini(
        self, kind: str, remedy: str, horizon: int | None = None, *, failures: Failures = None
    ) -> Qini:
        """The Qini curve of a two-model uplift score for ``remedy`` vs nothing on ``kind``
        failures: ``share``, ``gain``, ``coefficient`` (or ``note`` saying why not)."""
        from cxloop.results.outcomes import Qini
        from cxloop.services.outcomes.remedies import check_horizon, qini_for, rules_of

        rules = rules_of(self.workspace)
        h = check_horizon(rules, horizon)
        found = self.remedies_failures() if failures is None else failures
        got = qini_for(found, kind, remedy, h, rules)
        if isinstance(got, str):
            return Qini(
                kind=kind, remedy=remedy, horizon_days=h, note=got, coefficient=None,
                share=[], gain=[],
            )  # fmt: skip
        return Qini(
            kind=kind, remedy=remedy, horizon_days=h, note="", coefficient=got.coefficient,
            share=list(got.share), gain=list(got.gain),
        )  # fmt: skip

    def remedies_customers(
        self,
        kind: str,
        remedy: str,
        band: str = "any",
        horizon: int | None = None,
        group: str = "treated",
        *,
        failures: Failures = None,
    ) -> pd.DataFrame:
        """The failures behind one uplift figure: ``group`` treated or control."""
        from cxloop.services.outcomes.remedies import rules_of
        from cxloop.services.outcomes.remedies_report import customers

        rules = rules_of(self.workspace)
        found = self.remedies_failures() if failures is None else failures
        return customers(found, rules, kind, remedy, band, horizon, group)
