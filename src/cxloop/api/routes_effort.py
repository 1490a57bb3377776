"""Effort per issue (C6): the distributions, and the issues and customers behind any of
their figures (docs/effort.md). Read-only: every role may read them; personal data is
masked for viewers by the gate every answer passes (api/guard.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from cxloop.api.deps import Page, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.services import effort as effort_service
from cxloop.services.workspace import Workspace

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

Dimension = Literal["department", "channel", "team", "month"]
Flag = Literal["repeat", "reopened", "transferred", "one_touch", "first_contact_resolution"]
Value = Annotated[str | None, Query(max_length=200, description="With `by`: the value.")]


class EffortGroup(BaseModel):
    """One group's figures (every figure of `cxloop effort summary`)."""

    model_config = ConfigDict(extra="allow")
    by: str
    value: str
    issues: int
    customers: int
    contacts: int
    transfers: int
    one_touch_rate: float
    first_contact_resolution_rate: float
    repeat_rate: float
    reopened_rate: float
    elapsed_hours_median: float | None
    elapsed_hours_p90: float | None
    first_reply_hours_median: float | None
    first_reply_hours_p90: float | None


class EffortIssue(BaseModel):
    model_config = ConfigDict(extra="allow")
    issue_id: str
    customer_id: str
    started_at: str
    contacts: int
    replies: int
    transfers: int
    elapsed_hours: float
    wait_first_reply_hours: float
    wait_between_replies_hours: float
    wait_approval_hours: float
    customer_turn_hours: float


class EffortCustomer(BaseModel):
    model_config = ConfigDict(extra="allow")
    customer_id: str
    issues: int
    contacts: int
    elapsed_hours: float
    waited_hours: float


class IssuesPage(BaseModel):
    items: list[EffortIssue]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class CustomersPage(BaseModel):
    items: list[EffortCustomer]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def effort_issues(rt: Rt, ws: Ws) -> pd.DataFrame:
    """The store's issues, computed once per log version (shared by the dashboard)."""
    found: pd.DataFrame = rt.cached(("effort_issues",), effort_service.issues, ws)
    return found


def groups(issues: pd.DataFrame, by: str | None) -> list[dict[str, Any]]:
    dist = effort_service.distribution(issues, by)
    key = by or "all"
    dist = dist.rename(columns={key: "value"}).assign(by=key)
    dist["value"] = dist["value"].astype(str)
    return rows(dist, ())


@router.get("/effort", response_model=list[EffortGroup], tags=["effort"])
def effort(who: Who, rt: Rt, ws: Ws, by: Dimension | None = None) -> list[dict[str, Any]]:
    """Effort per issue by department, channel, team or month (of the first contact), or
    over all issues: counts, rates, median and p90 of contacts, waits and elapsed time."""
    return out(who, groups(effort_issues(rt, ws), by))  # type: ignore[no-any-return]


def _drill(rt: Rt, ws: Workspace, by: str | None, value: str | None, flag: str | None) -> Any:
    return effort_service.drill(effort_issues(rt, ws), by, value, flag)


@router.get("/effort/issues", response_model=IssuesPage, tags=["effort"])
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


@router.get("/effort/customers", response_model=CustomersPage, tags=["effort"])
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
    found = effort_service.customers(_drill(rt, ws, by, value, flag))
    return page(who, rows(found, ()), p)
