"""Outcomes (C7): retention, repeat purchase, lifecycle, the value of a kept promise, and
the customers behind each figure (docs/outcomes.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query

from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.library import Cx, Workspace, of
from cxloop.results.drill import LifecycleCustomer, PromiseValueCustomer, RetainedCustomer
from cxloop.results.outcomes import Lifecycle, PromiseValue, RepeatPurchase, Retention

router = APIRouter(prefix="/api/v1/outcomes", responses=ERROR_RESPONSES, tags=["outcomes"])
Period = Literal["month", "week"]
Contrast = Literal["broken", "exceeded"]
ByQ = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="promise (first promise outcome), channel, department or an attribute "
        "of the first purchase",
    ),
]
LabelQ = Annotated[str, Query(max_length=20, description="A period: 2017-03, or a date")]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return rows(df.reset_index(drop=True), ())


@router.get("/retention", response_model=Retention)
def retention(
    who: Who, rt: Rt, ws: Ws, period: Period = "month", by: ByQ = None, cohorts: bool = False
) -> dict[str, Any]:
    """Retention by first-purchase cohort, pooled per offset (or per cohort), with 95%
    Wilson intervals."""

    def compute(w: Workspace) -> list[dict[str, Any]]:
        return _records(of(w).retention(period, by, cohorts=cohorts))

    result = rt.cached(("outcomes_retention", period, by, cohorts), compute, ws)
    return out(who, {"period": period, "by": by, "rows": result})  # type: ignore[no-any-return]


@router.get("/retention/customers", response_model=PageOut[RetainedCustomer])
def retention_customers(
    who: Who,
    cx: Cx,
    p: Page,
    periods_after: Annotated[
        int,
        Query(
            ge=0,
            le=10_000,
            description="Periods after the first purchase: the figure's `offset` "
            "(`offset` here pages, as everywhere)",
        ),
    ],
    period: Period = "month",
    by: ByQ = None,
    cohort: Annotated[str | None, Query(max_length=20)] = None,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The customers active ``periods_after`` periods after their first purchase."""
    df = cx.retention_customers(periods_after, period, by, cohort, segment)
    return page(who, _records(df), p)


@router.get("/repeat", response_model=RepeatPurchase)
def repeat(who: Who, rt: Rt, ws: Ws, by: ByQ = None) -> dict[str, Any]:
    """Repeat purchase (split orders merged), at any time and within each window."""
    result = rt.cached(("outcomes_repeat", by), lambda w: _records(of(w).repeat_purchase(by)), ws)
    return out(who, {"by": by, "rows": result})  # type: ignore[no-any-return]


@router.get("/lifecycle", response_model=Lifecycle)
def lifecycle(who: Who, rt: Rt, ws: Ws, period: Period = "month", by: ByQ = None) -> dict[str, Any]:
    """Customers new, returning, resurrecting and dormant per period."""
    result = rt.cached(
        ("outcomes_lifecycle", period, by), lambda w: _records(of(w).lifecycle(period, by)), ws
    )
    return out(who, {"period": period, "by": by, "rows": result})  # type: ignore[no-any-return]


@router.get("/lifecycle/customers", response_model=PageOut[LifecycleCustomer])
def lifecycle_customers(
    who: Who,
    cx: Cx,
    p: Page,
    at: LabelQ,
    state: Literal["new", "returning", "resurrecting", "dormant"],
    period: Period = "month",
    by: ByQ = None,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The customers in one lifecycle state in one period."""
    df = cx.lifecycle_customers(at, state, period, by, segment)
    return page(who, _records(df), p)


@router.get("/promise-value", response_model=PromiseValue)
def promise_value(
    who: Who, rt: Rt, ws: Ws, contrast: Contrast = "broken", seed: int = 0
) -> PromiseValue:
    """The doubly robust effect of a first broken (or exceeded) promise on repeat purchase,
    revenue and review score, with the naive difference and E-values."""
    return rt.cached(
        ("outcomes_promise_value", contrast, seed),
        lambda w: of(w).promise_value(contrast, seed),
        ws,
    )


@router.get("/promise-value/customers", response_model=PageOut[PromiseValueCustomer])
def promise_value_customers(
    who: Who,
    cx: Cx,
    p: Page,
    contrast: Contrast = "broken",
    window: Annotated[str | None, Query(max_length=10, pattern=r"^[0-9.]+d$")] = None,
) -> dict[str, Any]:
    """The customers in the contrast, with their first promise, covariates and outcomes."""
    df = cx.promise_value_customers(contrast, window)
    return page(who, _records(df), p)
