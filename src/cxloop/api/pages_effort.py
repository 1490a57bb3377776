"""The dashboard's effort pages: the distribution of effort per issue by a dimension, and
the issues behind any of its figures (the same rows as ``GET /api/v1/effort/issues``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cxloop.api import charts
from cxloop.api.deps import Rt, Ws
from cxloop.api.library import of
from cxloop.api.pages import Me, PageRoute, _safe, render
from cxloop.api.routes_effort import effort_issues
from cxloop.domain.effort import DIMENSIONS, FLAGS, WAIT_PARTS

router = APIRouter(include_in_schema=False, route_class=PageRoute)
PAGE_ROWS = 200
#: elapsed time per issue, in buckets (upper bounds in hours)
BUCKETS = ((1, "< 1 h"), (4, "1-4 h"), (24, "4-24 h"), (72, "1-3 d"), (168, "3-7 d"))
WAIT_LABELS = {
    "wait_first_reply_hours": "waiting for a first reply",
    "wait_between_replies_hours": "waiting between replies",
    "wait_approval_hours": "waiting on an approval",
    "customer_turn_hours": "the customer's turn",
}


def drill_url(by: str, value: str, flag: str = "") -> str:
    query = {"by": by, "value": value} | ({"flag": flag} if flag else {})
    return "/effort/issues?" + urlencode(query)


def _buckets(issues: pd.DataFrame) -> list[tuple[str, float]]:
    hours = issues.elapsed_hours
    out, low = [], 0.0
    for high, name in BUCKETS:
        out.append((name, float(((hours >= low) & (hours < high)).sum())))
        low = high
    out.append(("> 7 d", float((hours >= low).sum())))
    return out


def _charts(issues: pd.DataFrame, dist: pd.DataFrame, by: str) -> dict[str, str]:
    recs = dist.to_dict(orient="records")
    per = [
        charts.Bar(
            str(r[by]),
            float(r["issues"]),
            f"{r['customers']:,} customers",
            drill_url(by, str(r[by])),
        )
        for r in recs
    ]
    medians = [
        charts.Bar(
            str(r[by]),
            float(r["elapsed_hours_median"] or 0),
            f"p90 {float(r['elapsed_hours_p90'] or 0):,.1f} h",
        )
        for r in recs
    ]
    contacts = issues.contacts.clip(upper=4).value_counts().sort_index()
    waits = [charts.Bar(WAIT_LABELS[p], float(issues[p].sum())) for p in WAIT_PARTS]
    return {
        "issues": charts.hbar_chart(per, label=f"Issues by {by}", fmt=charts.plain),
        "elapsed": charts.hbar_chart(medians, label=f"Median hours per issue by {by}"),
        "contacts": charts.bar_chart(
            [(f"{int(k)}{'+' if k == 4 else ''}", float(v)) for k, v in contacts.items()],
            label="Issues by contacts the customer made",
        ),
        "buckets": charts.bar_chart(
            _buckets(issues), label="Issues by time from first contact to last"
        ),
        "waits": charts.hbar_chart(waits, label="Hours of all issues, by whose turn it was"),
    }


@router.get("/effort")
def effort_page(
    request: Request,
    who: Me,
    rt: Rt,
    ws: Ws,
    by: Annotated[str, Query(max_length=20)] = "channel",
) -> HTMLResponse:
    issues = effort_issues(rt, ws)
    dist = of(ws).effort(by, issues=issues)
    groups: list[dict[str, Any]] = []
    for r in dist.to_dict(orient="records"):
        value = str(r[by])
        links = {f: drill_url(by, value, f) for f in FLAGS}
        groups.append(r | {"value": value, "href": drill_url(by, value), "links": links})
    return render(
        request,
        "effort.html",
        who,
        title="Effort",
        by=by,
        dimensions=DIMENSIONS,
        total=len(issues),
        customers=int(issues.customer_id.nunique()) if len(issues) else 0,
        groups=groups,
        charts=_safe(_charts(issues, dist, by) if len(issues) else {}),
    )


@router.get("/effort/issues")
def effort_issues_page(
    request: Request,
    who: Me,
    rt: Rt,
    ws: Ws,
    by: Annotated[str | None, Query(max_length=20)] = None,
    value: Annotated[str | None, Query(max_length=200)] = None,
    flag: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    cx = of(ws)
    found = cx.effort_issues(by, value, flag, issues=effort_issues(rt, ws))
    people = cx.effort_customers(issues=found)
    return render(
        request,
        "effort_issues.html",
        who,
        title="Effort: issues",
        by=by or "",
        value=value or "",
        flag=flag or "",
        total=len(found),
        customers=len(people),
        items=found.head(PAGE_ROWS).to_dict(orient="records"),
        shown=min(PAGE_ROWS, len(found)),
        csv_url="/api/v1/effort/issues?"
        + urlencode({k: v for k, v in (("by", by), ("value", value), ("flag", flag)) if v}),
    )
