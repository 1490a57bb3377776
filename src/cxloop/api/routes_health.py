"""Outcomes (C7): churn risk and revenue at risk from the log (docs/outcomes-churn.md).

``GET`` answers from the latest scoring kept in the store (quick); ``POST`` scores again
as of the store's clock (a model fit: seconds to minutes) and keeps the result.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cxloop.api.deps import Page, PageOut, Rt, Who, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.library import Cx
from cxloop.results.drill import CustomerAtRisk
from cxloop.results.outcomes import HealthReport, RiskBand

router = APIRouter(prefix="/api/v1/outcomes", responses=ERROR_RESPONSES)


@router.get("/health", response_model=HealthReport, tags=["outcomes"])
def health(who: Who, cx: Cx) -> HealthReport:
    """Revenue at risk and the model's time-split validation (ROC-AUC, Brier, calibration),
    from the latest scoring; ``stale`` when the log changed since."""
    return cx.saved_health().report()


@router.post("/health", response_model=HealthReport, tags=["outcomes"])
def score(who: Who, rt: Rt, cx: Cx) -> HealthReport:
    """Score every customer again as of the store's clock and keep the result."""
    who.require("score_health")
    found = cx.score_health()
    rt.wrote()
    return found.report()


@router.get("/health/customers", response_model=PageOut[CustomerAtRisk], tags=["outcomes"])
def customers(
    who: Who,
    cx: Cx,
    p: Page,
    min_risk: Annotated[float, Query(ge=0, le=1, description="Only at this risk or more")] = 0.0,
) -> dict[str, Any]:
    """The customers behind the figure, riskiest revenue first: risk, expected value,
    revenue at risk and the top reasons."""
    h = cx.saved_health()
    return page(who, rows(h.rows[h.rows["risk"] >= min_risk], ()), p)


@router.get("/health/distribution", response_model=list[RiskBand], tags=["outcomes"])
def distribution(who: Who, cx: Cx) -> list[dict[str, Any]]:
    """Customers and revenue at risk per risk band (ten bands of 0.1)."""
    return out(who, rows(cx.risk_bands(cx.saved_health()), ()))  # type: ignore[no-any-return]
