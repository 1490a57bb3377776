"""Funnels and paths (C6): conversion through steps, the customers behind each step's
drop, where they went next, and the commonest paths.

A funnel is given as query parameters, one ``step`` per step in the command line's syntax
(``step=order_placed&step=order_delivered%20within%2030d``); none gives the built-in funnel.
Results are cached per log version like the other reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.models_drill import FunnelDropped, PathCustomer
from cxloop.domain.funnels import FunnelSpec
from cxloop.services import funnels as funnel_service
from cxloop.services.workspace import Workspace

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


class StepOut(BaseModel):
    breakdown: str | None = None
    step: int
    name: str
    event: str
    optional: bool
    customers: int
    conversion_from_first: float | None
    conversion_from_previous: float | None
    dropped: int
    conversion: float | None


class TimeOut(BaseModel):
    converted: int
    p25: float | None
    median: float | None
    p75: float | None
    p90: float | None
    mean: float | None


class BinOut(BaseModel):
    from_hours: float
    to_hours: float
    customers: int


class FunnelOut(BaseModel):
    funnel: dict[str, Any]
    steps: list[StepOut]
    time_to_convert: TimeOut
    histogram: list[BinOut]


class PathOut(BaseModel):
    rank: int
    path: str
    customers: int
    share: float


class PathsOut(BaseModel):
    customers: int
    paths: list[PathOut]


def _spec(
    step: StepQ, order: str | None, window: str | None, exclude: ExcludeQ, by: str | None,
    conversion_from: str | None = None,
) -> FunnelSpec:  # fmt: skip
    return funnel_service.funnel_from_args(
        list(step or []), order=order, window=window, exclude=exclude, by=by,
        conversion_from=conversion_from,
    )  # fmt: skip


@router.get("/funnel", response_model=FunnelOut, tags=["journeys"])
def funnel(
    who: Who, rt: Rt, ws: Ws, step: StepQ = None, order: OrderQ = None, window: WindowQ = None,
    exclude: ExcludeQ = None, by: ByQ = None, conversion_from: FromQ = None,
) -> dict[str, Any]:  # fmt: skip
    """Customers, conversion (from the first and the previous step) and drop per step, per
    breakdown value; the time to convert (hours: percentiles and histogram)."""
    spec = _spec(step, order, window, exclude, by, conversion_from)

    def compute(w: Workspace) -> dict[str, Any]:
        r = funnel_service.run_funnel(w, spec)
        return {**r.summary(), "steps": rows(r.steps, ())}

    return out(who, rt.cached(("funnel", repr(spec)), compute, ws))  # type: ignore[no-any-return]


@router.get("/funnel/dropped", response_model=PageOut[FunnelDropped], tags=["journeys"])
def funnel_dropped(
    who: Who, ws: Ws, p: Page, dropped: StepRef, step: StepQ = None,
    order: OrderQ = None, window: WindowQ = None, exclude: ExcludeQ = None, by: ByQ = None,
) -> dict[str, Any]:  # fmt: skip
    """The customers who dropped at step ``dropped``: ``total`` equals its ``dropped``."""
    r = funnel_service.funnel_customers(ws, _spec(step, order, window, exclude, by))
    return page(who, rows(funnel_service.dropped_customers(r, dropped), ()), p)


@router.get("/funnel/next", response_model=PathsOut, tags=["journeys"])
def funnel_next(
    who: Who, ws: Ws, dropped: StepRef, step: StepQ = None, order: OrderQ = None,
    window: WindowQ = None, exclude: ExcludeQ = None,
    steps: Annotated[int, Query(ge=1, le=10)] = 3, top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:  # fmt: skip
    """Where the customers who dropped at ``dropped`` went next (their next event types)."""
    r = funnel_service.funnel_customers(ws, _spec(step, order, window, exclude, None))
    df = funnel_service.after_dropping(r, ws, dropped, steps, top)
    return out(who, _paths(df))  # type: ignore[no-any-return]


def _paths(df: Any) -> dict[str, Any]:
    cols = ["rank", "path", "customers", "share"]
    return {"customers": df.attrs["total"], "paths": rows(df[cols], ())}


def _path_spec(
    after: str | None, before: str | None, between: list[str] | None, steps: int, top: int
) -> Any:
    from cxloop.domain.funnels import build_paths
    from cxloop.errors import ConfigError

    if between is not None and len(between) != 2:
        raise ConfigError("paths: between takes two steps (between=A&between=B)")
    pair = (between[0], between[1]) if between else None
    return build_paths(after=after, before=before, between=pair, steps=steps, top=top)


AnchorQ = Annotated[str | None, Query(max_length=500, description="A step, as in funnel")]
BetweenQ = Annotated[list[str] | None, Query(max_length=500, description="Two steps")]


@router.get("/paths", response_model=PathsOut, tags=["journeys"])
def paths(
    who: Who, rt: Rt, ws: Ws, after: AnchorQ = None, before: AnchorQ = None,
    between: BetweenQ = None, steps: Annotated[int, Query(ge=1, le=10)] = 3,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:  # fmt: skip
    """The commonest sequences of event types after, before or between steps."""
    spec = _path_spec(after, before, between, steps, top)

    def compute(w: Workspace) -> dict[str, Any]:
        return _paths(funnel_service.run_paths(w, spec))

    return out(who, rt.cached(("paths", repr(spec)), compute, ws))  # type: ignore[no-any-return]


@router.get("/paths/customers", response_model=PageOut[PathCustomer], tags=["journeys"])
def path_customers(
    who: Who, ws: Ws, p: Page, rank: Annotated[int, Query(ge=1, le=100)],
    after: AnchorQ = None, before: AnchorQ = None, between: BetweenQ = None,
    steps: Annotated[int, Query(ge=1, le=10)] = 3,
) -> dict[str, Any]:  # fmt: skip
    """The customers on the path at ``rank`` (``total`` equals its ``customers``)."""
    spec = _path_spec(after, before, between, steps, rank)
    return page(who, rows(funnel_service.path_customers(ws, spec, rank), ()), p)
