"""The journeys dashboard page (docs/journeys.md): reach and score per stage as charts, the
map as a table, and the customers behind a stage's figure (``?stage=…&which=…``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from cxloop.api import charts
from cxloop.api.deps import Rt, Ws
from cxloop.api.library import Workspace, of
from cxloop.api.pages import Me, render, router

SHOWN = 500  # customers listed on the page (the count says how many there are)


def _map(ws: Workspace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = of(ws).journey_map().astype(object).to_dict("records")
    return [{k: (None if v != v else v) for k, v in r.items()} for r in rows]  # NaN -> None


def _link(stage: str, which: str) -> str:
    return "/journeys?" + urlencode({"stage": stage, "which": which}) + "#h-customers"


def _charts(stages: list[dict[str, Any]]) -> dict[str, Markup]:
    reach = [
        charts.Bar(
            s["stage"],
            float(s["customers"]),
            note=f"dropped {s['dropped']:,}" if s["dropped"] is not None else "",
            href=_link(s["stage"], "reached"),
            warn=bool(s["drop_rate"] is not None and s["drop_rate"] >= 0.5),
        )
        for s in stages
    ]
    scored = [
        charts.Bar(
            s["stage"],
            float(s["low_score_share"]),
            note=f"of {s['scores']:,} scores",
            href=_link(s["stage"], "low score"),
            warn=float(s["low_score_share"]) >= 0.3,
        )
        for s in stages
        if s["scores"]
    ]
    return {
        "reach": Markup(charts.hbar_chart(reach, label="Customers reaching each stage")),
        "low": Markup(
            charts.hbar_chart(
                scored, label="Share of low scores at each stage", fmt=charts.percent, scale=1.0
            )
        ),
    }


@router.get("/journeys")
def journeys_page(
    request: Request,
    who: Me,
    rt: Rt,
    ws: Ws,
    stage: Annotated[str | None, Query(max_length=200)] = None,
    which: Literal["reached", "dropped", "low score"] = "reached",
) -> HTMLResponse:
    stages = rt.cached(("dash_journey_map",), _map, ws)
    listed: list[dict[str, Any]] | None = None
    total = 0
    if stage:
        found = of(ws).journey_customers(stage, which)
        total = len(found)
        listed = found.head(SHOWN).astype({"entered_at": str}).to_dict("records")
    return render(
        request,
        "journeys.html",
        who,
        title="Journeys",
        stages=stages,
        charts=_charts(stages),
        stage=stage,
        which=which,
        listed=listed,
        total=total,
        shown=SHOWN,
        link=_link,
    )
