"""The shapes of the API's answers: what the OpenAPI spec documents for every endpoint.

Each model mirrors what a service returns (a store row, a dataclass, a report's columns).
Models are lenient at run time (``extra="allow"``: a key a service adds is passed on, never
dropped) and strict in the spec (``additionalProperties: false``), so a key that is not
documented fails the schema tests (tests/test_openapi.py, tests/test_api_schema.py) rather
than vanishing from an answer. Rows that carry user-defined data (an event's ``attrs``, a
report grouped by a dimension the caller picks) are :class:`Open`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from cxloop.results.base import Json, Open, Out

__all__ = ["Json", "Open", "Out", "PageOut"]


Item = TypeVar("Item")  # unbound: a bare ``PageOut`` pages anything (and documents nothing)


class PageOut(Out, Generic[Item]):
    """One page of a list."""

    items: list[Item]
    total: int
    """How many items the whole list holds."""
    limit: int
    offset: int
    next_offset: int | None
    """The offset of the next page (null on the last one)."""


class Clock(Out):
    mode: str
    """data (the latest event), wall (the system clock) or fixed (setting ``now``)."""
    now: str
    """What every report is as of."""


class HealthOut(Out):
    status: str
    version: str
    log_version: int
    """The event log's version (grows with every load that adds events)."""
    clock: Clock


# ---------------------------------------------------------------- events and the log
class IngestRun(Out):
    """One ingest run."""

    ingest_id: str
    source: str
    """The mapping the file was read with (generic, olist, ...)."""
    path: str
    started_at: str
    finished_at: str | None
    rows_read: int | None
    """null until the run finishes (as are the other counts)."""
    events_new: int | None
    events_duplicate: int | None
    rows_quarantined: int | None
    log_version: int | None
    status: str
    signature: str | None
    """The file's content signature (a file loaded again is recognised)."""


class Quarantined(Out):
    """A row the ingest refused, with the reason and the raw record."""

    id: int
    ingest_id: str
    source: str
    file: str
    file_sha256: str | None
    row: int
    """The row's position in its file (1: the first record)."""
    field: str
    reason: str
    value: str | None
    record: Json | str | None
    """The raw record as read."""
    retracted_at: str | None
    """When a later load of the file retracted this row (null: current)."""


class TimelineEvent(Out):
    """One event on a customer's timeline."""

    ts: str
    department: str | None
    event_type: str
    channel: str | None
    ref: str | None
    amount: float | None
    due_at: str | None
    attrs: Json | str | None
    """The event's own attributes (whatever the source carried; text that is not JSON
    stays text)."""
    event_id: str
    source: str | None


class Promise(Out):
    """A promise of the ledger: what was promised, by when, and what became of it."""

    promise_id: str
    rule: str
    kind: str
    department: str | None
    customer_id: str
    ref: str | None
    source_event_id: str
    amount: float | None
    opened_at: str
    due_at: str | None
    fulfilled_at: str | None
    voided_at: str | None
    milestone_at: str | None
    state: str
    """open, at_risk, kept, exceeded, broken or cancelled."""
    breach: str | None
    broken_reason: str | None
    late_hours: float | None
    margin_hours: float | None
    duration_hours: float | None
    baseline_hours: float | None
    """What this customer has come to expect for this rule (their usual time)."""
    baseline_n: int | None
    below_baseline: bool | None
    at_risk_at: str | None
    at_risk_reason: str | None
    as_of: str


class Baseline(Out):
    """What a customer has come to expect for one promise rule."""

    customer_id: str
    rule: str
    fulfilled: int
    usual_hours: float | None
    best_hours: float | None
    last_hours: float | None
    last_at: str | None
    below_baseline: int


class PromiseCounts(Out):
    """Counts and rates of one group: its key is the dimension asked for with ``by``
    (only that one of kind, rule, department, state, month is present)."""

    kind: str | None = None
    rule: str | None = None
    department: str | None = None
    state: str | None = None
    month: str | None = None
    total: int
    open: int
    at_risk: int
    kept: int
    exceeded: int
    broken: int
    cancelled: int
    broken_late: int
    broken_never_fulfilled: int
    broken_canceled: int
    kept_rate: float | None
    exceeded_rate: float | None
    broken_rate: float | None
    below_baseline: int
    broken_flagged_before: int
    late_hours_median: float | None
    late_hours_max: float | None


class LedgerBuild(Out):
    """A build of the promise ledger."""

    promises: int
    as_of: str
    as_of_mode: str
    log_version: int
    rules_version: str
    seconds: float
    built_at: str
    file: str
    engine: str
    layout: str


class LedgerStatus(Out):
    """The ledger's build and whether the log has moved on since (``stale``)."""

    as_of: str | None = None
    as_of_mode: str | None = None
    built_at: str | None = None
    engine: str | None = None
    file: str | None = None
    layout: str | None = None
    log_version: int | None = None
    promises: int | None = None
    rules_version: str | None = None
    seconds: float | None = None
    stale: bool
    log_version_now: int
    clock: Clock
