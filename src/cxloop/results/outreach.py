"""Outreach (C4): incidents, their cohorts, notices and sends."""

from __future__ import annotations

from cxloop.results.base import Json, Out


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
