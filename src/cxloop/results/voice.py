"""What customers and employees say (C5): scores, topics, emerging topics, drivers and
the comparison of the two voices, one row each (the library returns them as DataFrames).
"""

from __future__ import annotations

from cxloop.results.base import Out


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
