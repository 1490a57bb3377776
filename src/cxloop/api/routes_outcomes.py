"""Outcomes (C7): retention, repeat purchase, lifecycle, the value of a kept promise, and
the customers behind each figure (docs/outcomes.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel

from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.models_drill import LifecycleCustomer, PromiseValueCustomer, RetainedCustomer
from cxloop.services import promise_value as pv_service
from cxloop.services import retention as rs

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


class RetentionRow(BaseModel):
    segment: str
    offset: int
    cohort: str | None = None
    cohorts: int | None = None
    cohort_customers: int
    customers: int
    rate: float
    low: float | None
    high: float | None
    revenue: float
    revenue_per_customer: float
    complete: bool | None = None


class RetentionOut(BaseModel):
    period: str
    by: str | None
    rows: list[RetentionRow]


class LifecycleRow(BaseModel):
    segment: str
    period: str
    new: int
    returning: int
    resurrecting: int
    dormant: int
    active: int
    complete: bool


class LifecycleOut(BaseModel):
    period: str
    by: str | None
    rows: list[LifecycleRow]


class RepeatOut(BaseModel):
    by: str | None
    rows: list[dict[str, Any]]


class EffectRow(BaseModel):
    outcome: str
    n: int
    n_treated: int
    left_out: int
    note: str
    naive: float | None = None
    naive_low: float | None = None
    naive_high: float | None = None
    mean_treated: float | None = None
    mean_control: float | None = None
    effect: float | None = None
    low: float | None = None
    high: float | None = None
    ratio: float | None = None
    e_value: float | None = None
    e_value_ci: float | None = None
    propensity_min: float | None = None
    propensity_max: float | None = None


class PromiseValueOut(BaseModel):
    contrast: str
    treated: list[str]
    reference: list[str]
    promise_rule: str
    customers: int
    in_contrast: int
    states: dict[str, int]
    covariates: list[str]
    rows: list[EffectRow]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return rows(df.reset_index(drop=True), ())


@router.get("/retention", response_model=RetentionOut)
def retention(
    who: Who, rt: Rt, ws: Ws, period: Period = "month", by: ByQ = None, cohorts: bool = False
) -> dict[str, Any]:
    """Retention by first-purchase cohort, pooled per offset (or per cohort), with 95%
    Wilson intervals."""

    def compute(w: Any) -> list[dict[str, Any]]:
        df = rs.cohort_table(w, period, by) if cohorts else rs.retention_curve(w, period, by)
        return _records(df)

    result = rt.cached(("outcomes_retention", period, by, cohorts), compute, ws)
    return out(who, {"period": period, "by": by, "rows": result})  # type: ignore[no-any-return]


@router.get("/retention/customers", response_model=PageOut[RetainedCustomer])
def retention_customers(
    who: Who,
    ws: Ws,
    p: Page,
    offset: Annotated[int, Query(ge=0, le=10_000)],
    period: Period = "month",
    by: ByQ = None,
    cohort: Annotated[str | None, Query(max_length=20)] = None,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The customers active ``offset`` periods after their first purchase."""
    df = rs.retention_customers(ws, offset, period, by, cohort, segment)
    return page(who, _records(df), p)


@router.get("/repeat", response_model=RepeatOut)
def repeat(who: Who, rt: Rt, ws: Ws, by: ByQ = None) -> dict[str, Any]:
    """Repeat purchase (split orders merged), at any time and within each window."""
    result = rt.cached(("outcomes_repeat", by), lambda w: _records(rs.repeat_purchase(w, by)), ws)
    return out(who, {"by": by, "rows": result})  # type: ignore[no-any-return]


@router.get("/lifecycle", response_model=LifecycleOut)
def lifecycle(who: Who, rt: Rt, ws: Ws, period: Period = "month", by: ByQ = None) -> dict[str, Any]:
    """Customers new, returning, resurrecting and dormant per period."""
    result = rt.cached(
        ("outcomes_lifecycle", period, by), lambda w: _records(rs.lifecycle(w, period, by)), ws
    )
    return out(who, {"period": period, "by": by, "rows": result})  # type: ignore[no-any-return]


@router.get("/lifecycle/customers", response_model=PageOut[LifecycleCustomer])
def lifecycle_customers(
    who: Who,
    ws: Ws,
    p: Page,
    at: LabelQ,
    state: Literal["new", "returning", "resurrecting", "dormant"],
    period: Period = "month",
    by: ByQ = None,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The customers in one lifecycle state in one period."""
    df = rs.lifecycle_customers(ws, at, state, period, by, segment)
    return page(who, _records(df), p)


@router.get("/promise-value", response_model=PromiseValueOut)
def promise_value(
    who: Who, rt: Rt, ws: Ws, contrast: Contrast = "broken", seed: int = 0
) -> dict[str, Any]:
    """The doubly robust effect of a first broken (or exceeded) promise on repeat purchase,
    revenue and review score, with the naive difference and E-values."""
    result = rt.cached(
        ("outcomes_promise_value", contrast, seed),
        lambda w: pv_service.promise_value(w, contrast, seed),
        ws,
    )
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/promise-value/customers", response_model=PageOut[PromiseValueCustomer])
def promise_value_customers(
    who: Who,
    ws: Ws,
    p: Page,
    contrast: Contrast = "broken",
    window: Annotated[str | None, Query(max_length=10, pattern=r"^[0-9.]+d$")] = None,
) -> dict[str, Any]:
    """The customers in the contrast, with their first promise, covariates and outcomes."""
    df = pv_service.promise_value_customers(ws, contrast, window)
    return page(who, _records(df), p)
