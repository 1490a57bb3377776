"""Funnels and paths (C6, docs/funnels.md): conversion through steps, the customers behind
each step's drop, where they went next, and the commonest paths."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cxloop.errors import ConfigError
from cxloop.library.reports_base import ReportBase

if TYPE_CHECKING:
    from cxloop.domain.funnels import FunnelSpec
    from cxloop.results.journeys import FunnelReport
    from cxloop.services.journeys.funnels import FunnelCustomers, FunnelResult


class FunnelsMixin(ReportBase):
    def funnel_spec(
        self,
        steps: list[str] | None = None,
        *,
        file: str | Path | None = None,
        order: str | None = None,
        window: str | None = None,
        exclude: list[str] | None = None,
        by: str | None = None,
        conversion_from: str | None = None,
    ) -> FunnelSpec:
        """The funnel of :meth:`funnel`'s arguments, checked (a bad step is a ConfigError)."""
        from cxloop.services.journeys import funnels as funnel_service

        return funnel_service.funnel_from_args(
            list(steps or []),
            file=Path(file) if file is not None else None,
            order=order,
            window=window,
            exclude=exclude,
            by=by,
            conversion_from=conversion_from,
        )

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
        spec: FunnelSpec | None = None,
    ) -> FunnelResult:
        """A funnel (steps as on the command line, ``"order_delivered where region=SP
        within 30d"``; or a TOML ``file``; default: the built-in commerce funnel; or a
        ``spec``): its ``steps`` DataFrame (customers, conversion, dropped per step),
        ``time_to_convert``, ``histogram``, and ``customers`` (the Ibis table of each
        customer's best attempt); ``.report()`` is the typed :class:`FunnelReport`."""
        from cxloop.services.journeys import funnels as funnel_service

        if spec is None:
            spec = self.funnel_spec(
                steps, file=file, order=order, window=window, exclude=exclude, by=by,
                conversion_from=conversion_from,
            )  # fmt: skip
        return funnel_service.run_funnel(self.workspace, spec)

    def funnel_report(self, spec: FunnelSpec) -> FunnelReport:
        """The funnel's figures as one typed result (what the API answers)."""
        return self.funnel(spec=spec).report()

    def funnel_customers(self, spec: FunnelSpec) -> FunnelCustomers:
        """Each customer's best attempt through the funnel, without counting them (for a
        drill-down alone: :meth:`funnel_dropped`, :meth:`funnel_next`)."""
        from cxloop.services.journeys import funnels as funnel_service

        return funnel_service.funnel_customers(self.workspace, spec)

    def funnel_dropped(self, result: FunnelCustomers, step: str) -> pd.DataFrame:
        """The customers who dropped at ``step`` (name or number): as many as its drop."""
        from cxloop.services.journeys import funnels as funnel_service

        return funnel_service.dropped_customers(result, step)

    def funnel_converted(self, result: FunnelCustomers) -> pd.DataFrame:
        """The customers who completed the funnel, with their hours to convert."""
        from cxloop.services.journeys import funnels as funnel_service

        return funnel_service.converted_customers(result)

    def funnel_next(
        self, result: FunnelCustomers, step: str, steps: int = 3, top: int = 10
    ) -> pd.DataFrame:
        """Where the customers who dropped at ``step`` went next (their next event types)."""
        from cxloop.services.journeys import funnels as funnel_service

        return funnel_service.after_dropping(result, self.workspace, step, steps, top)

    def paths(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        between: tuple[str, str] | list[str] | None = None,
        steps: int = 3,
        top: int = 10,
    ) -> pd.DataFrame:
        """The commonest sequences of event types after, before or between steps (each a
        step as on the command line), with the share of customers on each (``.attrs["total"]``:
        the customers counted)."""
        from cxloop.domain.funnels import build_paths
        from cxloop.services.journeys import funnels as funnel_service

        spec = build_paths(after=after, before=before, between=_pair(between), steps=steps, top=top)
        return funnel_service.run_paths(self.workspace, spec)

    def path_customers(
        self,
        rank: int,
        *,
        after: str | None = None,
        before: str | None = None,
        between: tuple[str, str] | list[str] | None = None,
        steps: int = 3,
    ) -> pd.DataFrame:
        """The customers on the path at ``rank`` of :meth:`paths`."""
        from cxloop.domain.funnels import build_paths
        from cxloop.services.journeys import funnels as funnel_service

        pair = _pair(between)
        spec = build_paths(after=after, before=before, between=pair, steps=steps, top=rank)
        return funnel_service.path_customers(self.workspace, spec, rank)


def _pair(between: tuple[str, str] | list[str] | None) -> tuple[str, str] | None:
    if between is None:
        return None
    if len(between) != 2:
        raise ConfigError("paths: between takes two steps (between=A&between=B)")
    return (between[0], between[1])
