"""Journeys (C6): the journey map, one customer's path, where it tanks, and the customers
behind each figure (docs/journeys.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel

from cxloop.api.deps import Rt, Who, Ws, out, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.services.journeys import Journeys
from cxloop.services.workspace import Workspace

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Name = Annotated[str, Query(min_length=1, max_length=200)]


class StageOut(BaseModel):
    stage: str
    follows: str | None
    optional: bool
    customers: int
    share_of_first: float | None
    median_hours_from_previous: float | None
    late: int | None
    next_stage: str | None
    dropped: int | None
    drop_rate: float | None
    scores: int
    mean_score_0_100: float | None
    low_score_share: float | None


class StepOut(BaseModel):
    stage: str
    entered_at: str
    left_at: str | None
    event_id: str
    ref: str | None
    late: bool
    hours_from_previous: float | None


class FindingOut(BaseModel):
    stage: str
    outcome: str
    factor: str
    with_factor: int
    with_factor_and_outcome: int
    without_factor: int
    rate_with: float
    rate_without: float
    difference: float
    diff_low: float
    diff_high: float
    odds_ratio: float
    or_low: float
    or_high: float
    p_value: float
    q_value: float
    significant: bool


class CustomerOut(BaseModel):
    customer_id: str
    entered_at: str


def _records(df: pd.DataFrame) -> list[dict[str, object]]:
    df = df.reset_index(drop=True)
    return rows(df.astype(object).where(df.notna(), None), ())


def _map(ws: Workspace) -> list[dict[str, object]]:
    with Journeys(ws) as j:
        return _records(j.stage_map())


@router.get("/journeys/map", response_model=list[StageOut], tags=["journeys"])
def journey_map(who: Who, rt: Rt, ws: Ws) -> list[dict[str, object]]:
    """Per stage: customers reaching it, median hours from the stage it follows, drop-offs,
    scores given there."""
    return out(who, rt.cached(("journey_map",), _map, ws))  # type: ignore[no-any-return]


@router.get("/journeys/path", response_model=list[StepOut], tags=["journeys"])
def journey_path(who: Who, ws: Ws, customer_id: Name) -> list[dict[str, object]]:
    """One customer's stages in the order entered (404 when they entered none)."""
    with Journeys(ws) as j:
        return out(who, _records(j.path(customer_id)))  # type: ignore[no-any-return]


@router.get("/journeys/tanks", response_model=list[FindingOut], tags=["journeys"])
def journey_tanks(
    who: Who,
    rt: Rt,
    ws: Ws,
    outcome: Literal["drop", "low score"] | None = None,
    fdr: Annotated[float, Query(gt=0, le=1)] = 0.05,
    significant_only: bool = True,
) -> list[dict[str, object]]:
    """Where it tanks: per stage, the factors that go with dropping off or a low score."""

    def compute(w: Workspace) -> list[dict[str, object]]:
        with Journeys(w) as j:
            df = j.tanks(outcome, fdr)
        return _records(df[df["significant"].astype(bool)] if significant_only else df)

    result = rt.cached(("journey_tanks", outcome, fdr, significant_only), compute, ws)
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/journeys/customers", response_model=list[CustomerOut], tags=["journeys"])
def journey_customers(
    who: Who,
    ws: Ws,
    stage: Name,
    which: Literal["reached", "dropped", "low score"] = "reached",
    factor: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> list[dict[str, object]]:
    """The customers behind a figure: reached, dropped or gave a low score at ``stage``;
    with ``factor``, those of a where-it-tanks finding (as many as its count)."""
    with Journeys(ws) as j:
        return out(who, _records(j.customers(stage, which, factor)))  # type: ignore[no-any-return]
