"""Systemic failures (incidents): one failure that hits a cohort of customers.

Pure definitions. Detectors (:mod:`cxloop.analytics.detectors`) find them in the
event log and the promise ledger; outreach notifies their cohorts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Incident:
    """A group of facts (a carrier in a region in a week, a billing run, a product batch)
    whose failure rate rose significantly above its baseline."""

    incident_id: str  # stable: hash of detector, dimension, value and window start
    detector: str  # the detector spec's name, e.g. "late_deliveries"
    kind: str  # late_delivery | billing_deviation | contact_spike | promise_breaks
    dimension: str  # what it is grouped by, e.g. "carrier+region", "run", "sku"
    value: str  # the group, e.g. "<carrier> / southeast" for carrier+region
    window_start: datetime
    window_end: datetime  # exclusive
    n: int  # facts in the group and window (orders, invoices, shipments)
    hits: int  # of which failed (late, deviating, contacted about the topic)
    rate: float  # hits / n
    baseline_rate: float  # the failure rate outside this group and window
    p_value: float
    q_value: float  # after the false-discovery-rate correction across every tested group
    method: str  # the named statistical test, e.g. "one-sided exact binomial test, BH FDR 5%"
    summary: str  # one readable sentence
    details: dict[str, Any]  # detector-specific figures (e.g. overcharged total)
    # added with defaults by the detectors (cxloop.analytics.incidents):
    detectable_at: datetime | None = None  # when the first flagged window's facts were all known
    detected_at: datetime | None = None  # the as-of time of the detection run
