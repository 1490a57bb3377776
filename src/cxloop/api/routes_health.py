"""Outcomes (C7): churn risk and revenue at risk from the log (docs/outcomes-churn.md).

``GET`` answers from the latest scoring kept in the store (quick); ``POST`` scores again
as of the store's clock (a model fit: seconds to minutes) and keeps the result.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cxloop.api.deps import Page, PageOut, Rt, Who, Ws, out, page, rows
from cxloop.api.errors import ERROR_RESPONSES
from cxloop.api.models_drill import CustomerAtRisk
from cxloop.errors import NotFoundError
from cxloop.services import health as health_service
from cxloop.services.workspace import Workspace

router = APIRouter(prefix="/api/v1/outcomes", responses=ERROR_RESPONSES)


class Validation(BaseModel):
    roc_auc: float
    roc_auc_ci: list[float]
    brier: float
    brier_baseline: float
    n: int
    positives: int
    model: str
    recency_only_roc_auc: float
    train_cutoff: str
    test_cutoff: str
    validation: str
    warning: str = ""
    calibration: list[dict[str, float]]


class HealthOut(BaseModel):
    as_of: str
    horizon_days: float
    customers: int
    mean_risk: float | None
    revenue_at_risk: float
    expected_value: float
    stale: bool
    validation: Validation


class Band(BaseModel):
    risk_from: float
    risk_to: float
    customers: int
    revenue_at_risk: float


def _saved(ws: Workspace) -> health_service.Health:
    h = health_service.saved(ws)
    if h is None:
        raise NotFoundError(
            "no health scoring yet: POST /api/v1/outcomes/health, or run `cxloop outcomes health`"
        )
    return h


def _summary(h: health_service.Health) -> dict[str, Any]:
    return {
        "as_of": h.as_of.isoformat(),
        "horizon_days": h.horizon_days,
        **{k: h.summary.get(k) for k in ("customers", "mean_risk", "revenue_at_risk")},
        "expected_value": h.summary.get("expected_value"),
        "stale": bool(h.summary.get("stale", False)),
        "validation": h.validation,
    }


@router.get("/health", response_model=HealthOut, tags=["outcomes"])
def health(who: Who, ws: Ws) -> dict[str, Any]:
    """Revenue at risk and the model's time-split validation (ROC-AUC, Brier, calibration),
    from the latest scoring; ``stale`` when the log changed since."""
    return out(who, _summary(_saved(ws)))  # type: ignore[no-any-return]


@router.post("/health", response_model=HealthOut, tags=["outcomes"])
def score(who: Who, rt: Rt, ws: Ws) -> dict[str, Any]:
    """Score every customer again as of the store's clock and keep the result."""
    who.require("detect_incidents")
    s = ws.settings
    h = health_service.health(ws, s.health_horizon, health_service.load_spec(s.health_spec))
    health_service.save(ws, h, s.health_spec)
    rt.wrote()
    return out(who, _summary(h))  # type: ignore[no-any-return]


@router.get("/health/customers", response_model=PageOut[CustomerAtRisk], tags=["outcomes"])
def customers(
    who: Who,
    ws: Ws,
    p: Page,
    min_risk: Annotated[float, Query(ge=0, le=1, description="Only at this risk or more")] = 0.0,
) -> dict[str, Any]:
    """The customers behind the figure, riskiest revenue first: risk, expected value,
    revenue at risk and the top reasons."""
    h = _saved(ws)
    return page(who, rows(h.rows[h.rows["risk"] >= min_risk], ()), p)


@router.get("/health/distribution", response_model=list[Band], tags=["outcomes"])
def distribution(who: Who, ws: Ws) -> list[dict[str, Any]]:
    """Customers and revenue at risk per risk band (ten bands of 0.1)."""
    return out(who, rows(health_service.distribution(_saved(ws).rows), ()))  # type: ignore[no-any-return]
