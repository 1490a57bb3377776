"""The dashboard's outcomes page: retention curves by the first promise's outcome, and the
value of a kept promise (docs/outcomes.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from cxloop.api import charts
from cxloop.api.deps import Rt, Ws
from cxloop.api.library import Workspace, of
from cxloop.api.pages import Me, PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)
SEGMENTS = ("kept", "exceeded", "broken")


def _figures(ws: Workspace) -> dict[str, Any]:
    cx = of(ws)
    curve = cx.retention("month", "promise")
    value = cx.promise_value("broken").model_dump(exclude_unset=True)
    return {"curve": curve.to_dict("records"), "value": value}


def _curve_chart(rows: list[dict[str, Any]], segment: str) -> str:
    points = [
        charts.Point(
            f"+{r['offset']}",
            r["rate"],
            r["low"],
            r["high"],
            f"{r['customers']:,} of {r['cohort_customers']:,}",
        )
        for r in rows
        if r["segment"] == segment and r["offset"] > 0
    ]
    return charts.line_chart(
        points,
        label=f"Customers whose first promise was {segment}: share buying N months later",
        fmt=charts.percent,
        y_min=0.0,
    )


def _effect_chart(rows: list[dict[str, Any]]) -> str:
    shown = [
        r
        for r in rows
        if r.get("effect") is not None and r["outcome"].startswith(("repeat", "review"))
    ]
    intervals = []
    for r in shown:
        span = max(abs(r["low"]), abs(r["high"]), abs(r["naive"])) * 1.2 or 1.0
        intervals.append(
            charts.Interval(
                r["outcome"],
                r["effect"],
                r["low"],
                r["high"],
                -span,
                span,
                reference=r["naive"],
                reference_label="naive",
                note=f"{r['n_treated']:,} broken of {r['n']:,}",
            )
        )
    return charts.interval_chart(intervals, label="Effect of a broken first promise, 95% interval")


@router.get("/outcomes")
def outcomes_page(request: Request, who: Me, rt: Rt, ws: Ws) -> HTMLResponse:
    data = rt.cached(("dash_outcomes",), _figures, ws=ws)
    curves = {s: Markup(_curve_chart(data["curve"], s)) for s in SEGMENTS}
    value = data["value"]
    effect = Markup(_effect_chart(value["rows"]))
    return render(
        request, "outcomes.html", who, title="Outcomes", curves=curves, value=value, effect=effect
    )
