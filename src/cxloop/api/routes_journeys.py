"""Journeys (C6): the journey map, one customer's path, where it tanks, and the customers
behind each figure (docs/journeys.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query

from cxloop.api.deps import Rt, Who, Ws, out, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.library import Cx, Workspace, of
from cxloop.results.journeys import JourneyCustomer, JourneyStage, JourneyStep, TankFinding

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Name = Annotated[str, Query(min_length=1, max_length=200)]


def _records(df: pd.DataFrame) -> list[dict[str, object]]:
    df = df.reset_index(drop=True)
    return rows(df.astype(object).where(df.notna(), None), ())


def _map(ws: Workspace) -> list[dict[str, object]]:
    return _records(of(ws).journey_map())


@router.get("/journeys/map", response_model=list[JourneyStage], tags=["journeys"])
def journey_map(who: Who, rt: Rt, ws: Ws) -> list[dict[str, object]]:
    """Per stage: customers reaching it, median hours from the stage it follows, drop-offs,
    scores given there."""
    return out(who, rt.cached(("journey_map",), _map, ws))  # type: ignore[no-any-return]


@router.get("/journeys/path", response_model=list[JourneyStep], tags=["journeys"])
def journey_path(who: Who, cx: Cx, customer_id: Name) -> list[dict[str, object]]:
    """One customer's stages in the order entered (404 when they entered none)."""
    return out(who, _records(cx.journey_path(customer_id)))  # type: ignore[no-any-return]


@router.get("/journeys/tanks", response_model=list[TankFinding], tags=["journeys"])
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
        df = of(w).journey_tanks(outcome, fdr)
        return _records(df[df["significant"].astype(bool)] if significant_only else df)

    result = rt.cached(("journey_tanks", outcome, fdr, significant_only), compute, ws)
    return out(who, result)  # type: ignore[no-any-return]


@router.get("/journeys/customers", response_model=list[JourneyCustomer], tags=["journeys"])
def journey_customers(
    who: Who,
    cx: Cx,
    stage: Name,
    which: Literal["reached", "dropped", "low score"] = "reached",
    factor: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> list[dict[str, object]]:
    """The customers behind a figure: reached, dropped or gave a low score at ``stage``;
    with ``factor``, those of a where-it-tanks finding (as many as its count)."""
    return out(who, _records(cx.journey_customers(stage, which, factor)))  # type: ignore[no-any-return]
