"""Effort per issue (C6, docs/effort.md): contacts grouped across channels into issues, the
distributions, and the issues and customers behind any of their figures."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from cxloop.library.reports_base import ReportBase


class EffortMixin(ReportBase):
    def effort_issues_expr(self) -> ir.Table:
        """The per-issue effort rows as an Ibis table on the store's engine."""
        from cxloop.services.journeys import effort as effort_service

        return effort_service.issues_expr(self.workspace)

    def effort_issues(
        self,
        by: str | None = None,
        value: str | None = None,
        flag: str | None = None,
        *,
        issues: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """One row per issue (contacts grouped across channels, docs/effort.md); with ``by``
        and ``value`` (and a ``flag``) only the issues behind that figure. ``issues``: the
        store's issues computed before (this method without arguments), to drill into
        without computing them again."""
        from cxloop.services.journeys import effort as effort_service

        found = effort_service.issues(self.workspace) if issues is None else issues
        return effort_service.drill(found, by, value, flag)

    def effort(self, by: str | None = None, *, issues: pd.DataFrame | None = None) -> pd.DataFrame:
        """Effort distributions (counts, rates, median and p90) by department, channel,
        team or month (``by``), or over all issues."""
        from cxloop.services.journeys import effort as effort_service

        found = effort_service.issues(self.workspace) if issues is None else issues
        return effort_service.distribution(found, by)

    def effort_customers(
        self,
        by: str | None = None,
        value: str | None = None,
        flag: str | None = None,
        *,
        issues: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The customers behind an effort figure, with their issues, contacts and waits."""
        from cxloop.services.journeys import effort as effort_service

        return effort_service.customers(self.effort_issues(by, value, flag, issues=issues))
