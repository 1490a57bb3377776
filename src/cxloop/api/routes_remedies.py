"""Which remedies won customers back (issue 19): the REST endpoints and the dashboard page.

``/api/v1/outcomes/remedies`` (uplift per failure kind, remedy and amount band, with the
policy reading), ``.../qini`` (the Qini curve of ranking who benefits) and
``.../customers`` (the failures behind a figure, paged); the page ``/outcomes/remedies``.
The failure table is computed once per log version (the runtime's cache).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cxloop.api import charts
from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.library import Workspace, of
from cxloop.api.pages import Me, PageRoute, _safe, render
from cxloop.api.runtime import Runtime
from cxloop.results.drill import RemedyFailure
from cxloop.results.outcomes import Qini, RemediesReport

router = APIRouter(responses=ERROR_RESPONSES)
pages = APIRouter(include_in_schema=False, route_class=PageRoute)  # signs in, error pages
Name = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
Horizon = Annotated[int | None, Query(ge=1, le=3650, description="Days (default the first)")]


def _frame(rt: Runtime, ws: Workspace) -> pd.DataFrame:
    frame: pd.DataFrame = rt.cached(("remedies_frame",), lambda w: of(w).remedies_failures(), ws)
    return frame


def _report(rt: Runtime, ws: Workspace, horizon: int | None, kind: str | None) -> RemediesReport:
    of(ws).remedies_horizon(horizon)  # a wrong horizon is a 400 before anything is cached
    report: RemediesReport = rt.cached(
        ("remedies_report", horizon, kind),
        lambda w: of(w).remedies_report(horizon, kind, failures=_frame(rt, w)),
        ws,
    )
    return report


def _qini(rt: Runtime, ws: Workspace, kind: str, remedy: str, horizon: int | None) -> Qini:
    return of(ws).remedies_qini(kind, remedy, horizon, failures=_frame(rt, ws))


def _customers(
    rt: Runtime, ws: Workspace, kind: str, remedy: str, band: str, horizon: int | None, group: str
) -> pd.DataFrame:
    cx = of(ws)
    return cx.remedies_customers(kind, remedy, band, horizon, group, failures=_frame(rt, ws))


@router.get("/api/v1/outcomes/remedies", response_model=RemediesReport, tags=["outcomes"])
def remedies(
    who: Who, rt: Rt, ws: Ws, horizon: Horizon = None, kind: Name | None = None
) -> RemediesReport:
    """Per failure kind, remedy and amount band (cut at the policy's limits): the uplift on
    "ordered again within the horizon" against the same kind's failures that got nothing
    (cross-fitted doubly robust, 95% interval), the naive difference, or why too few."""
    return _report(rt, ws, horizon, kind)


@router.get("/api/v1/outcomes/remedies/qini", response_model=Qini, tags=["outcomes"])
def remedies_qini(
    who: Who, rt: Rt, ws: Ws, kind: Name, remedy: Name, horizon: Horizon = None
) -> Qini:
    """The Qini curve of a two-model uplift score for ``remedy`` vs nothing."""
    return _qini(rt, ws, kind, remedy, horizon)


@router.get(
    "/api/v1/outcomes/remedies/customers",
    response_model=PageOut[RemedyFailure],
    tags=["outcomes"],
)
def remedies_customers(
    who: Who,
    rt: Rt,
    ws: Ws,
    p: Page,
    kind: Name,
    remedy: Name,
    band: Annotated[str, Query(max_length=40)] = "any",
    horizon: Horizon = None,
    group: Literal["treated", "control"] = "treated",
) -> dict[str, Any]:
    """The failures behind one figure (their ``retained`` averages to its rate)."""
    df = _customers(rt, ws, kind, remedy, band, horizon, group)
    return page(who, rows(df, ()), p)


# ---------------------------------------------------------------- the dashboard page
def _uplift_chart(table: pd.DataFrame, kind: str) -> str:
    shown = table[table.kind == kind]
    lows = [v for v in shown.low.tolist() if pd.notna(v)]
    highs = [v for v in shown.high.tolist() if pd.notna(v)]
    lo = min([-20.0, *(100 * v for v in lows)])
    hi = max([40.0, *(100 * v for v in highs)])
    marks = [
        charts.Interval(
            label=f"{r.remedy} {r.band}",
            value=100 * r.uplift if pd.notna(r.uplift) else math.nan,
            low=100 * r.low if pd.notna(r.low) else math.nan,
            high=100 * r.high if pd.notna(r.high) else math.nan,
            scale_low=math.floor(lo / 10) * 10,
            scale_high=math.ceil(hi / 10) * 10,
            reference=0.0,
            reference_label="got nothing",
            note=f"n {int(r.n_treated)}" if pd.notna(r.n_treated) else "",
        )
        for r in shown.itertuples()
    ]
    return charts.interval_chart(marks, label=f"Uplift in points, {kind} failures")


def _qini_chart(q: Qini) -> str:
    points = [
        charts.Point(label=f"{s:.0%}", value=100 * g) for s, g in zip(q.share, q.gain, strict=True)
    ]
    label = f"Qini curve: {q.remedy} on {q.kind} failures"
    return charts.line_chart(points, label=label, reference=0.0, band_label="")


@pages.get("/outcomes/remedies")
def remedies_page(
    request: Request,
    who: Me,
    rt: Rt,
    ws: Ws,
    kind: Annotated[str, Query(max_length=64)] = "",
    remedy: Annotated[str, Query(max_length=64)] = "",
    band: Annotated[str, Query(max_length=40)] = "any",
    group: Literal["treated", "control"] = "treated",
    horizon: Horizon = None,
) -> HTMLResponse:
    report = _report(rt, ws, horizon, None)
    table = pd.DataFrame([r.model_dump() for r in report.rows])
    kinds = sorted(set(table.kind)) if len(table) else []
    kind = kind or (kinds[0] if kinds else "")
    mine = table[table.kind == kind] if len(table) else table
    done = mine[mine.uplift.notna()] if len(mine) else mine
    pick = remedy or (str(done.remedy.iloc[0]) if len(done) else "")
    svgs = {"uplift": _uplift_chart(table, kind) if kind else "", "qini": ""}
    if kind and pick:
        svgs["qini"] = _qini_chart(_qini(rt, ws, kind, pick, report.horizon_days))
    behind: list[dict[str, Any]] = []
    if remedy:
        behind = rows(_customers(rt, ws, kind, remedy, band, horizon, group), ())
    return render(
        request,
        "remedies.html",
        who,
        title="Remedies",
        report=report,
        rows=mine.to_dict("records") if len(mine) else [],
        kinds=kinds,
        kind=kind,
        pick=pick,
        band=band,
        group=group,
        behind=behind,
        charts=_safe(svgs),
    )
