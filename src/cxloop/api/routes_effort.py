"""Effort per issue (C6): the distributions, and the issues and customers behind any of
their figures (docs/effort.md). Read-only: every role may read them; personal data is
masked for viewers by the gate every answer passes (api/guard.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query

from cxloop.api.deps import Page, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.library import Workspace, of
from cxloop.results.effort import EffortCustomersPage, EffortGroup, EffortIssuesPage

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Dimension = Literal["department", "channel", "team", "month"]
Flag = Literal["repeat", "reopened", "transferred", "one_touch", "first_contact_resolution"]
Value = Annotated[str | None, Query(max_length=200, description="With `by`: the value.")]


def effort_issues(rt: Rt, ws: Ws) -> pd.DataFrame:
    """The store's issues, computed once per log version (shared by the dashboard)."""
    found: pd.DataFrame = rt.cached(("effort_issues",), lambda w: of(w).effort_issues(), ws)
    return found


def groups(issues: pd.DataFrame, by: str | None, ws: Workspace) -> list[dict[str, Any]]:
    dist = of(ws).effort(by, issues=issues)
    key = by or "all"
    dist = dist.rename(columns={key: "value"}).assign(by=key)
    dist["value"] = dist["value"].astype(str)
    return rows(dist, ())


@router.get("/effort", response_model=list[EffortGroup], tags=["effort"])
def effort(who: Who, rt: Rt, ws: Ws, by: Dimension | None = None) -> list[dict[str, Any]]:
    """Effort per issue by department, channel, team or month (of the first contact), or
    over all issues: counts, rates, median and p90 of contacts, waits and elapsed time."""
    return out(who, groups(effort_issues(rt, ws), by, ws))  # type: ignore[no-any-return]


def _drill(rt: Rt, ws: Workspace, by: str | None, value: str | None, flag: str | None) -> Any:
    return of(ws).effort_issues(by, value, flag, issues=effort_issues(rt, ws))


@router.get("/effort/issues", response_model=EffortIssuesPage, tags=["effort"])
def effort_issue_rows(
    who: Who,
    rt: Rt,
    ws: Ws,
    p: Page,
    by: Dimension | None = None,
    value: Value = None,
    flag: Flag | None = None,
) -> dict[str, Any]:
    """The issues behind a figure (`by` and `value`, and a `flag`), oldest first (paged:
    `total` equals the figure's `issues`)."""
    return page(who, rows(_drill(rt, ws, by, value, flag), ()), p)


@router.get("/effort/customers", response_model=EffortCustomersPage, tags=["effort"])
def effort_customers(
    who: Who,
    rt: Rt,
    ws: Ws,
    p: Page,
    by: Dimension | None = None,
    value: Value = None,
    flag: Flag | None = None,
) -> dict[str, Any]:
    """The customers behind a figure (`total` equals the figure's `customers`)."""
    found = of(ws).effort_customers(by, value, flag, issues=effort_issues(rt, ws))
    return page(who, rows(found, ()), p)
