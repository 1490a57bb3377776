"""The shapes of the voice (C5), outreach (C4), brief (C8) and access answers: see
:mod:`cxloop.api.models`."""

from __future__ import annotations

from cxloop.api.models import Json, Out


class Me(Out):
    """The caller's key."""

    key_id: str
    name: str
    role: str
    grant_as: str | None
    """The empowerment policy's role this key grants as (null: it may not grant)."""
    may: list[str]
    """The permissions of the key's role."""


# ---------------------------------------------------------------- voice (C5)
class Score(Out):
    """A score with its 95% interval; per group or period when asked for with ``by``
    (only that one of the week ... voice keys is present)."""

    week: str | None = None
    month: str | None = None
    department: str | None = None
    channel: str | None = None
    stage: str | None = None
    survey: str | None = None
    voice: str | None = None
    metric: str
    headline: str
    """How the metric is summarised (NPS, mean, top-box share)."""
    n: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    mean: float | None
    top_share: float | None
    bottom_share: float | None
    change: float | None = None
    """The change from the previous period (only when ``by`` is a period: week, month)."""
    change_p: float | None = None
    """The change's p-value (only when ``by`` is a period)."""


class Topic(Out):
    """What customers write about."""

    topic: int
    label: str
    texts: int
    share: float
    customers: int
    negative_share: float | None
    mean_score: float | None
    sources: str
    """Texts per source (survey_response 68, review 41)."""
    terms: list[str]
    examples: list[str]


class Emerging(Out):
    """A topic growing or souring in the latest period against the baseline."""

    topic: int
    label: str
    latest_texts: int
    baseline_texts: int
    kind: str
    latest_rate: float | None
    baseline_rate: float | None
    lift: float | None
    p: float | None
    q: float | None
    """Benjamini-Hochberg q-value across the topics tested."""
    emerging: bool
    examples: list[str]


class Driver(Out):
    """A topic or promise outcome that moves the scores, with effect sizes."""

    driver: str
    kind: str
    answers_with: int
    share: float
    mean_with: float | None
    mean_without: float | None
    difference: float | None
    diff_low: float | None
    diff_high: float | None
    cohens_d: float | None
    coefficient: float | None
    """Least squares coefficient (HC1 errors) with the others held fixed."""
    coef_low: float | None
    coef_high: float | None
    p: float | None
    impact: float | None


class Comparison(Out):
    """A policy or practice: what customers say and what employees say."""

    subject: str
    title: str
    kind: str
    department: str | None
    customers_texts: int
    customers_people: int
    customers_negative_share: float | None
    customers_mean_score: float | None
    customers_examples: list[str]
    employees_texts: int
    employees_people: int
    employees_negative_share: float | None
    employees_mean_score: float | None
    employees_examples: list[str]
    verdict: str


# ---------------------------------------------------------------- outreach (C4)
class Incident(Out):
    """A systemic failure found by a detector."""

    incident_id: str
    detector: str
    kind: str
    dimension: str
    value: str
    window_start: str
    window_end: str
    n: int
    hits: int
    rate: float
    baseline_rate: float
    p_value: float
    q_value: float
    method: str
    summary: str
    details: Json
    """The detector's spec, the flagged cells and the figures behind them."""
    detectable_at: str | None
    detected_at: str | None


class IncidentSeen(Incident):
    """An incident with when the detectors first and last found it."""

    first_detected_at: str | None
    last_detected_at: str | None


class OutreachSummary(Out):
    incident_id: str
    summary: str
    customers: int
    facts: int
    with_address: int
    already_complained: int
    not_yet_complained: int
    left_low_review: int


class IncidentDetail(Out):
    """An incident with its outreach summary."""

    incident: Incident
    outreach: OutreachSummary


class CohortRow(Out):
    """An affected customer-fact of an incident, whether they complained or not."""

    incident_id: str
    customer_id: str
    ref: str | None
    fact: str
    fact_value: float | None
    fact_at: str | None
    complained: bool
    complained_at: str | None
    low_review: bool
    low_review_at: str | None
    low_review_score: float | None
    detectable_at: str | None
    could_reach_first: bool | None
    """Whether a notice could have reached the customer before they complained."""


class Notice(Out):
    """A notice that would go out (one per customer)."""

    key: str
    """Idempotency key: never sent twice."""
    incident_id: str
    customer_id: str
    address: str | None
    subject: str
    body: str
    data: Json
    """What the template was filled with."""


class SendError(Out):
    key: str
    error: str


class SendReport(Out):
    """What a send did."""

    queued: int
    sent: int
    failed: int
    uncertain: int
    """Sends whose outcome is unknown (retry with ``retry_uncertain``)."""
    skipped_already_sent: int
    skipped_failed: int
    left: int
    recovered: int
    total: int
    errors: list[SendError]


class Sending(Out):
    """A recorded send: status, attempts, receipt, error."""

    key: str
    incident_id: str
    customer_id: str
    channel: str
    address: str | None
    subject: str
    body: str
    data: Json
    status: str
    """queued, sent, failed or uncertain."""
    retryable: bool | None
    attempts: int
    created_at: str
    claimed_at: str | None
    sent_at: str | None
    receipt: str | None
    """What the channel answered (a message id, an HTTP status)."""
    error: str | None
