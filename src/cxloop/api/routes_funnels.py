"""Funnels and paths (C6): conversion through steps, the customers behind each step's
drop, where they went next, and the commonest paths.

A funnel is given as query parameters, one ``step`` per step in the command line's syntax
(``step=order_placed&step=order_delivered%20within%2030d``); none gives the built-in funnel.
Results are cached per log version like the other reports."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query

from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.library import Cx, Workspace, of
from cxloop.client import Cxloop
from cxloop.domain.funnels import FunnelSpec
from cxloop.results.drill import FunnelDropped, PathCustomer
from cxloop.results.journeys import FunnelReport, Paths

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

StepQ = Annotated[
    list[str] | None,
    Query(max_length=500, description="A step, as `cxloop funnel --step` (repeat, in order)"),
]
ExcludeQ = Annotated[
    list[str] | None,
    Query(max_length=500, description="An exclusion: EVENT [where ...] [between A and B]"),
]
OrderQ = Annotated[str | None, Query(pattern="^(ordered|strict|unordered)$")]
WindowQ = Annotated[str | None, Query(max_length=20, description="e.g. 30d, 12h")]
ByQ = Annotated[str | None, Query(max_length=64, pattern=r"^[\w.-]+$")]
FromQ = Annotated[str | None, Query(alias="from", pattern="^(first|previous)$")]
StepRef = Annotated[str, Query(max_length=100, description="A step's name or number")]


def _spec(
    cx: Cxloop, step: StepQ, order: str | None, window: str | None, exclude: ExcludeQ,
    by: str | None, conversion_from: str | None = None,
) -> FunnelSpec:  # fmt: skip
    return cx.funnel_spec(
        step, order=order, window=window, exclude=exclude, by=by, conversion_from=conversion_from
    )


@router.get("/funnel", response_model=FunnelReport, tags=["journeys"])
def funnel(
    who: Who, rt: Rt, ws: Ws, cx: Cx, step: StepQ = None, order: OrderQ = None,
    window: WindowQ = None, exclude: ExcludeQ = None, by: ByQ = None, conversion_from: FromQ = None,
) -> FunnelReport:  # fmt: skip
    """Customers, conversion (from the first and the previous step) and drop per step, per
    breakdown value; the time to convert (hours: percentiles and histogram)."""
    spec = _spec(cx, step, order, window, exclude, by, conversion_from)
    return rt.cached(("funnel", repr(spec)), lambda w: of(w).funnel_report(spec), ws)


@router.get("/funnel/dropped", response_model=PageOut[FunnelDropped], tags=["journeys"])
def funnel_dropped(
    who: Who, cx: Cx, p: Page, dropped: StepRef, step: StepQ = None,
    order: OrderQ = None, window: WindowQ = None, exclude: ExcludeQ = None, by: ByQ = None,
) -> dict[str, Any]:  # fmt: skip
    """The customers who dropped at step ``dropped``: ``total`` equals its ``dropped``."""
    r = cx.funnel_customers(_spec(cx, step, order, window, exclude, by))
    return page(who, rows(cx.funnel_dropped(r, dropped), ()), p)


@router.get("/funnel/next", response_model=Paths, tags=["journeys"])
def funnel_next(
    who: Who, cx: Cx, dropped: StepRef, step: StepQ = None, order: OrderQ = None,
    window: WindowQ = None, exclude: ExcludeQ = None,
    steps: Annotated[int, Query(ge=1, le=10)] = 3, top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:  # fmt: skip
    """Where the customers who dropped at ``dropped`` went next (their next event types)."""
    r = cx.funnel_customers(_spec(cx, step, order, window, exclude, None))
    return out(who, _paths(cx.funnel_next(r, dropped, steps, top)))  # type: ignore[no-any-return]


def _paths(df: pd.DataFrame) -> dict[str, Any]:
    cols = ["rank", "path", "customers", "share"]
    return {"customers": df.attrs["total"], "paths": rows(df[cols], ())}


AnchorQ = Annotated[str | None, Query(max_length=500, description="A step, as in funnel")]
BetweenQ = Annotated[list[str] | None, Query(max_length=500, description="Two steps")]


@router.get("/paths", response_model=Paths, tags=["journeys"])
def paths(
    who: Who, rt: Rt, ws: Ws, after: AnchorQ = None, before: AnchorQ = None,
    between: BetweenQ = None, steps: Annotated[int, Query(ge=1, le=10)] = 3,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:  # fmt: skip
    """The commonest sequences of event types after, before or between steps."""
    key = ("paths", after, before, tuple(between) if between is not None else None, steps, top)

    def compute(w: Workspace) -> dict[str, Any]:
        return _paths(
            of(w).paths(after=after, before=before, between=between, steps=steps, top=top)
        )

    return out(who, rt.cached(key, compute, ws))  # type: ignore[no-any-return]


@router.get("/paths/customers", response_model=PageOut[PathCustomer], tags=["journeys"])
def path_customers(
    who: Who, cx: Cx, p: Page, rank: Annotated[int, Query(ge=1, le=100)],
    after: AnchorQ = None, before: AnchorQ = None, between: BetweenQ = None,
    steps: Annotated[int, Query(ge=1, le=10)] = 3,
) -> dict[str, Any]:  # fmt: skip
    """The customers on the path at ``rank`` (``total`` equals its ``customers``)."""
    found = cx.path_customers(rank, after=after, before=before, between=between, steps=steps)
    return page(who, rows(found, ()), p)
