"""The dashboard's churn-risk page (outcomes, C7): the risk distribution, revenue at risk,
the validation figures and the customers worth a call, from the latest scoring kept in
the store (``cxloop outcomes health`` or ``POST /api/v1/outcomes/health`` makes it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from cxloop import Health
from cxloop.api import charts
from cxloop.api.deps import Ws
from cxloop.api.library import of
from cxloop.api.pages import Me, PageRoute, render
from cxloop.errors import NotFoundError

router = APIRouter(include_in_schema=False, route_class=PageRoute)
SHOWN = 50


def _bands(ws: Ws, h: Health) -> dict[str, Markup]:
    bands = of(ws).risk_bands(h)
    names = [f"{a:.0%}-{b:.0%}" for a, b in zip(bands["risk_from"], bands["risk_to"], strict=True)]
    customers = list(zip(names, bands["customers"].astype(float), strict=True))
    money = list(zip(names, bands["revenue_at_risk"].astype(float), strict=True))
    return {
        "customers": Markup(charts.bar_chart(customers, label="Customers per churn-risk band")),
        "revenue": Markup(
            charts.bar_chart(money, label="Revenue at risk per churn-risk band", fmt=charts.plain)
        ),
    }


@router.get("/outcomes/health")
def health_page(request: Request, who: Me, ws: Ws) -> HTMLResponse:
    try:
        h: Health | None = of(ws).saved_health()
    except NotFoundError:
        h = None
    context: dict[str, Any] = {"h": None, "charts": {}}
    if h is not None:
        s = ws.settings
        calls = h.rows[h.rows["risk"] >= s.health_call_risk]
        context = {
            "h": {
                "as_of": h.as_of.isoformat(),
                "horizon_days": h.horizon_days,
                "summary": h.summary,
                "validation": h.validation,
                "call_risk": s.health_call_risk,
                "calls_total": len(calls),
                "calls": calls.head(SHOWN).to_dict(orient="records"),
            },
            "charts": _bands(ws, h),
        }
    return render(request, "health.html", who, title="Churn risk", **context)
