"""Outcomes (C7): retention, repeat purchase, lifecycle, the value of a kept promise,
churn risk (health) and which remedies won customers back.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RetentionRow(BaseModel):
    segment: str
    offset: int
    cohort: str | None = None
    cohorts: int | None = None
    cohort_customers: int
    customers: int
    rate: float
    low: float | None
    high: float | None
    revenue: float
    revenue_per_customer: float
    complete: bool | None = None


class Retention(BaseModel):
    period: str
    by: str | None
    rows: list[RetentionRow]


class LifecycleRow(BaseModel):
    segment: str
    period: str
    new: int
    returning: int
    resurrecting: int
    dormant: int
    active: int
    complete: bool


class Lifecycle(BaseModel):
    period: str
    by: str | None
    rows: list[LifecycleRow]


class RepeatPurchase(BaseModel):
    by: str | None
    rows: list[dict[str, Any]]


class EffectRow(BaseModel):
    outcome: str
    n: int
    n_treated: int
    left_out: int
    note: str
    naive: float | None = None
    naive_low: float | None = None
    naive_high: float | None = None
    mean_treated: float | None = None
    mean_control: float | None = None
    effect: float | None = None
    low: float | None = None
    high: float | None = None
    ratio: float | None = None
    e_value: float | None = None
    e_value_ci: float | None = None
    propensity_min: float | None = None
    propensity_max: float | None = None


class PromiseValue(BaseModel):
    contrast: str
    treated: list[str]
    reference: list[str]
    promise_rule: str
    customers: int
    in_contrast: int
    states: dict[str, int]
    covariates: list[str]
    rows: list[EffectRow]


class HealthValidation(BaseModel):
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


class HealthReport(BaseModel):
    as_of: str
    horizon_days: float
    customers: int
    mean_risk: float | None
    revenue_at_risk: float
    expected_value: float
    stale: bool
    validation: HealthValidation


class RiskBand(BaseModel):
    risk_from: float
    risk_to: float
    customers: int
    revenue_at_risk: float


class UpliftRow(BaseModel):
    kind: str
    remedy: str
    band: str
    band_top: float | None
    policy_limit: str
    horizon_days: int
    n_treated: int | None
    n_control: int | None
    rate_treated: float | None
    rate_control: float | None
    naive: float | None
    uplift: float | None
    low: float | None
    high: float | None
    note: str


class RemediesReport(BaseModel):
    horizon_days: int
    policy_reading: list[str]
    rows: list[UpliftRow]


class Qini(BaseModel):
    kind: str
    remedy: str
    horizon_days: int
    note: str
    coefficient: float | None
    share: list[float]
    gain: list[float]
