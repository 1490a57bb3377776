"""Journeys, funnels and paths (C6): the journey map's stages, one customer's path,
where it tanks, a funnel with its steps, and the commonest paths.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class JourneyStage(BaseModel):
    stage: str
    follows: str | None
    optional: bool
    customers: int
    share_of_first: float | None
    median_hours_from_previous: float | None
    late: int | None
    next_stage: str | None
    dropped: int | None
    drop_rate: float | None
    scores: int
    mean_score_0_100: float | None
    low_score_share: float | None


class JourneyStep(BaseModel):
    stage: str
    entered_at: str
    left_at: str | None
    event_id: str
    ref: str | None
    late: bool
    hours_from_previous: float | None


class TankFinding(BaseModel):
    stage: str
    outcome: str
    factor: str
    with_factor: int
    with_factor_and_outcome: int
    without_factor: int
    rate_with: float
    rate_without: float
    difference: float
    diff_low: float
    diff_high: float
    odds_ratio: float
    or_low: float
    or_high: float
    p_value: float
    q_value: float
    significant: bool


class JourneyCustomer(BaseModel):
    customer_id: str
    entered_at: str


class FunnelStep(BaseModel):
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


class TimeToConvert(BaseModel):
    converted: int
    p25: float | None
    median: float | None
    p75: float | None
    p90: float | None
    mean: float | None


class HistogramBin(BaseModel):
    from_hours: float
    to_hours: float
    customers: int


class FunnelReport(BaseModel):
    funnel: dict[str, Any]
    steps: list[FunnelStep]
    time_to_convert: TimeToConvert
    histogram: list[HistogramBin]


class PathRow(BaseModel):
    rank: int
    path: str
    customers: int
    share: float


class Paths(BaseModel):
    customers: int
    paths: list[PathRow]
