"""The daily brief (C8) and its parts: what ``Cxloop.brief`` returns and the API answers
(see :mod:`cxloop.results.base`)."""

from __future__ import annotations

from typing import Any

from cxloop.results.base import Json
from cxloop.results.record import Record


class WindowScore(Record):
    """A score of the latest window beside the same window plus the four weeks before."""

    metric: str
    headline: str
    n: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    last_5_weeks: float | None
    last_answer: str | None = None  # the latest answer up to the brief's date
    last_5_weeks_n: int | None = None  # answers in the longer window


class BriefTopic(Record):
    label: str
    texts: int
    negative_share: float | None
    example: str | None


class BriefEmerging(Record):
    label: str
    kind: str
    lift: float | None
    q: float | None


class CustomersSay(Record):
    scores: list[WindowScore]
    topics: list[BriefTopic]
    emerging: list[BriefEmerging]
    sentiment: dict[str, Any] | None = None
    """Which sentiment model scored the texts, and why (``voice sentiment``'s choice)."""


class Subject(Record):
    title: str
    negative_share: float | None
    comments: int
    verdict: str


class EmployeesSay(Record):
    scores: list[WindowScore]
    subjects: list[Subject]
    latest_comments: list[str]


class BriefItem(Record):
    """A candidate for the one thing to do today, with the customers and cases behind it."""

    key: str
    kind: str
    title: str
    action: str
    customers: int
    revenue: float
    control: float
    """1: the organization runs it itself; 0.5: shared with a partner; 0.75: cause unknown."""
    reach: float
    """control x (customers + revenue / average order value): what the ranking uses."""
    evidence: Json
    """What the item rests on (its kind decides: a test, the examples, severity)."""
    customer_ids: list[str]
    case_ids: list[str]
    stage: str
    """warn or recover for a systemic failure; empty otherwise."""
    audience: dict[str, int]
    """Who of its customers was told, complained, reviewed, has not been heard from."""
    acted: Json | None
    """The latest action recorded on the item, if any."""


class Before(Record):
    customers: int
    revenue: float
    reach: float
    control: float
    audience: dict[str, int] | None = None
    """Who of its customers was told, complained, reviewed (an incident's item only)."""


class BriefAction(Record):
    """An action recorded on a brief item, with the item's figures then."""

    action_id: int
    item_key: str
    kind: str
    title: str
    note: str
    actor: str
    acted_at: str
    before: Before


class Now(Record):
    customers: int
    revenue: float
    reach: float


class ActionEffect(BriefAction):
    """An action with its item's figures now (null: no longer a candidate)."""

    now: Now | None
    customers_change: int | None


class LeftOut(Record):
    key: str
    title: str
    why: str


class WorstStage(Record):
    """The journey stage whose scores were worst in the last days (docs/journeys.md)."""

    stage: str
    days: int
    scores: int
    low_scores: int
    low_share: float
    customer_ids: list[str]
    """The customers who gave the low scores."""


class CallWorthMaking(Record):
    customer_id: str
    risk: float
    revenue_at_risk: float
    reasons: str


class AtRisk(Record):
    """Revenue at risk and the customers worth a call today, from the latest health
    scoring (``cxloop outcomes health``); only ``note`` before any scoring."""

    note: str
    """Why figures are missing or may be out of date (empty when current)."""
    as_of: str | None = None
    horizon_days: int | None = None
    stale: bool | None = None
    revenue_at_risk: float | None = None
    customers: int | None = None
    at_or_above_call_risk: int | None = None
    call_risk: float | None = None
    roc_auc: float | None = None
    calls: list[CallWorthMaking] | None = None


class Brief(Record):
    """What customers say, what employees say, and the one thing to do today."""

    as_of: str
    currency: str
    method: str
    """How the candidates are found and ranked."""
    customers: CustomersSay
    employees: EmployeesSay
    one_thing: BriefItem | None
    actions: list[ActionEffect]
    candidates: list[BriefItem]
    left_out: list[LeftOut]
    worst_stage: WorstStage | None = None
    """The journey stage with the largest share of low scores this week (null: none with
    enough scores)."""
    at_risk: AtRisk | None = None
