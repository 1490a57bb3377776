"""The dashboard's funnel page: a bar per step with its conversion, each linking to the
customers who dropped there (whose count is the step's drop).

The funnel is the form's ``step`` fields (one per step, as ``cxloop funnel --step``; a line
break in a query is refused by the guard), its window and order; none, the built-in funnel."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from cxloop.api import charts
from cxloop.api.deps import Rt, Ws
from cxloop.api.library import Workspace, of
from cxloop.api.pages import Me, PageRoute, render
from cxloop.domain.funnels import FunnelSpec

router = APIRouter(include_in_schema=False, route_class=PageRoute)

StepsQ = Annotated[list[str] | None, Query(alias="step", max_length=500)]
OrderQ = Annotated[str, Query(pattern="^(|ordered|strict|unordered)$")]
WindowQ = Annotated[str, Query(max_length=20)]


def _spec(ws: Workspace, steps: list[str], order: str, window: str) -> FunnelSpec:
    lines = [s.strip() for s in steps if s.strip()]
    return of(ws).funnel_spec(lines, order=order or None, window=window or None)


def _query(steps: list[str], order: str, window: str, **more: str) -> str:
    given = [("step", s) for s in steps if s.strip()]
    given += [(k, v) for k, v in {"order": order, "window": window, **more}.items() if v]
    return urlencode(given)


def _chart(rows: list[dict[str, Any]], steps: list[str], order: str, window: str) -> Markup:
    bars = []
    for r in rows:
        note = f"{100 * (r['conversion'] or 0):.0f}%"
        href = ""
        if r["step"] > 1:
            note += f" · {r['dropped']:,} dropped"
            href = "/funnel/dropped?" + _query(steps, order, window, dropped=str(r["step"]))
        bars.append(charts.Bar(f"{r['step']}. {r['name']}", float(r["customers"]), note, href))
    svg = charts.hbar_chart(bars, label="Customers at each step of the funnel", label_chars=24)
    return Markup(svg)


@router.get("/funnel")
def funnel_page(
    request: Request, who: Me, rt: Rt, ws: Ws, steps: StepsQ = None, order: OrderQ = "",
    window: WindowQ = "",
) -> HTMLResponse:  # fmt: skip
    steps = steps or []
    spec = _spec(ws, steps, order, window)

    def compute(w: Workspace) -> dict[str, Any]:
        r = of(w).funnel(spec=spec)
        return {**r.summary(), "rows": r.steps.to_dict("records")}

    data = rt.cached(("funnel_page", repr(spec)), compute, ws)
    shown = [s["name"] + ": " + s["event"] for s in data["funnel"]["steps"]] + [""]
    for r in data["rows"]:
        r["dropped_url"] = "/funnel/dropped?" + _query(steps, order, window, dropped=str(r["step"]))
    chart = _chart(data["rows"], steps, order, window)
    return render(
        request, "funnel.html", who, title="Funnel", chart=chart, steps=shown,
        order=spec.order, window=window, **data,
    )  # fmt: skip


@router.get("/funnel/dropped")
def funnel_dropped_page(
    request: Request, who: Me, ws: Ws, dropped: Annotated[str, Query(max_length=100)],
    steps: StepsQ = None, order: OrderQ = "", window: WindowQ = "",
) -> HTMLResponse:  # fmt: skip
    steps = steps or []
    spec = _spec(ws, steps, order, window)
    cx = of(ws)
    found = cx.funnel_dropped(cx.funnel_customers(spec), dropped)
    rows = found.head(1000).to_dict("records")
    back = "/funnel?" + _query(steps, order, window)
    name = found.dropped_at.iloc[0] if len(found) else dropped
    return render(
        request, "funnel_dropped.html", who, title=f"Dropped at {name}", step=name,
        total=len(found), rows=rows, back=back,
    )  # fmt: skip
