"""Outcomes (C7, docs/outcomes.md): retention, repeat purchase, lifecycle, the value of a
kept promise, and the customers behind each figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cxloop.library.reports_base import ReportBase
from cxloop.serialize import clean

if TYPE_CHECKING:
    from cxloop.results.outcomes import PromiseValue


class OutcomesMixin(ReportBase):
    def retention(
        self, period: str = "month", by: str | None = None, *, cohorts: bool = False
    ) -> pd.DataFrame:
        """Retention by first-purchase cohort (``period``: month or week): pooled per offset,
        or per cohort with ``cohorts``; ``by``: ``promise`` (first promise outcome),
        ``channel``, ``department`` or an attribute of the first purchase."""
        from cxloop.services.outcomes import retention as rs

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
        from cxloop.services.outcomes import retention as rs

        return rs.retention_customers(self.workspace, offset, period, by, cohort, segment)

    def repeat_purchase(self, by: str | None = None) -> pd.DataFrame:
        """Repeat purchase (split orders merged) per segment, with windows and intervals."""
        from cxloop.services.outcomes import retention as rs

        return rs.repeat_purchase(self.workspace, by)

    def repeat_customers(self, by: str | None = None, segment: str | None = None) -> pd.DataFrame:
        from cxloop.services.outcomes import retention as rs

        return rs.repeat_customers(self.workspace, by, segment)

    def lifecycle(self, period: str = "month", by: str | None = None) -> pd.DataFrame:
        """Customers new, returning, resurrecting and dormant per period."""
        from cxloop.services.outcomes import retention as rs

        return rs.lifecycle(self.workspace, period, by)

    def lifecycle_customers(
        self,
        at: str,
        state: str,
        period: str = "month",
        by: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        from cxloop.services.outcomes import retention as rs

        return rs.lifecycle_customers(self.workspace, at, state, period, by, segment)

    def promise_value(self, contrast: str = "broken", seed: int = 0) -> PromiseValue:
        """The doubly robust effect of a first broken (or exceeded) promise on repeat
        purchase, revenue and review score, beside the naive difference: one
        :class:`~cxloop.results.outcomes.EffectRow` per outcome in ``.rows``."""
        from cxloop.results.outcomes import PromiseValue
        from cxloop.services.outcomes import promise_value as pv

        return PromiseValue.model_validate(clean(pv.promise_value(self.workspace, contrast, seed)))

    def promise_value_customers(
        self, contrast: str = "broken", window: str | None = None
    ) -> pd.DataFrame:
        """The customers in the contrast, with their first promise, covariates and outcomes."""
        from cxloop.services.outcomes import promise_value as pv

        return pv.promise_value_customers(self.workspace, contrast, window)
