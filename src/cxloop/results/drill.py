"""The customers behind a figure of journeys (C6) and outcomes (C7), one row each."""

from __future__ import annotations

from pydantic import ConfigDict

from cxloop.results.base import Out


class FunnelDropped(Out):
    """A customer who dropped at the step asked for (their best attempt)."""

    customer_id: str
    dropped_at: str
    """The step they did not reach."""
    last_step: str
    """The last step they did reach."""
    started_at: str | None
    """When their best attempt began (the first step)."""
    last_step_at: str | None


class PathCustomer(Out):
    """A customer on the path asked for."""

    customer_id: str


class RetainedCustomer(Out):
    """A customer active the asked number of periods after their first purchase."""

    segment: str
    """Their segment (the breakdown's value; ``all`` without one)."""
    customer_id: str
    cohort: str
    """The period of their first purchase."""
    revenue: float | None
    """What they spent in that period."""


class LifecycleCustomer(Out):
    segment: str
    period: str
    customer_id: str
    state: str
    """new, returning, resurrecting or dormant."""


class PromiseValueCustomer(Out):
    """A customer in the contrast: the first promise, what was known before it (the
    ``cat_*`` and ``num_*`` covariates, which depend on the outcomes file), and the outcomes
    in each window."""

    model_config = ConfigDict(
        extra="allow",
        use_attribute_docstrings=True,
        json_schema_extra={"additionalProperties": True},
    )

    customer_id: str
    treated: bool
    """Whether the first promise was in the contrast (broken, or exceeded)."""
    state: str
    ref: str | None
    opened_at: str | None
    due_at: str | None
    t0: str | None
    """When the outcome windows start."""
    order_amount: float | None
    lead_days: float | None
    review_score: float | None


class RemedyFailure(Out):
    """A failure behind a remedies figure: the customer's first broken promise of the kind,
    what they were given for it, and whether they ordered again within the horizon."""

    customer_id: str
    promise_id: str
    subject: str | None
    """The order (or case) the promise was about."""
    failed_at: str | None
    remedy: str
    """What was given (``none``: nothing)."""
    amount: float | None
    band: str
    """The amount band (cut at the policy's limits), or ``none``."""
    retained: bool


class CustomerAtRisk(Out):
    """A customer's churn risk from the log (``cxloop outcomes health``)."""

    customer_id: str
    recency_days: float | None
    """Days since their last purchase, at the cut-off."""
    order_days: float | None
    """On how many days they bought."""
    promises_broken: float | None
    risk: float
    """The calibrated probability of no purchase within the horizon."""
    expected_value: float
    """What they would spend within the horizon if they stayed."""
    revenue_at_risk: float
    """risk x expected value."""
    reasons: str
    """The features that raise their risk most."""
