"""Report specs over the ledger and the log: typed, serialisable, run by a registry.

Each spec has a ``kind`` and parameters; :func:`run` looks up its runner. The
runners are Ibis expressions, so they run wherever the ledger lives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from cxloop.analytics.attrs import attr_number
from cxloop.domain.promises import KEPT_STATES, RESOLVED_STATES, BrokenReason, PromiseState
from cxloop.errors import ConfigError

DIMENSIONS = ("kind", "rule", "department", "state", "month")


@dataclass(frozen=True)
class PromiseReport:
    """Counts and rates of promises grouped by one dimension (or none)."""

    by: str | None = "kind"
    kind: str = "promise_report"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BaselineReport:
    """Per customer and rule: what the customer has come to expect."""

    customer_id: str | None = None
    kind: str = "baseline_report"


def dimension(t: ir.Table, by: str) -> ir.Value:
    """The value a promise is grouped by for ``by`` (``month``: the due date's month)."""
    if by == "month":
        return t.due_at.strftime("%Y-%m")
    return t[by]


def promise_report(t: ir.Table, spec: PromiseReport) -> ir.Table:
    if spec.by is not None and spec.by not in DIMENSIONS:
        raise ConfigError(
            f"cannot group promises by {spec.by!r}; expected one of " + ", ".join(DIMENSIONS)
        )

    def n(state: PromiseState) -> ir.IntegerScalar:
        return (t.state == state.value).sum().cast("int64")

    broken = t.state == PromiseState.BROKEN.value
    kept = t.state.isin([s.value for s in KEPT_STATES])
    resolved = t.state.isin([s.value for s in RESOLVED_STATES])
    late = (t.broken_reason == BrokenReason.LATE.value).fill_null(False)
    # a plain column of the late ones' hours (nulls elsewhere): every engine's median skips
    # nulls, while Spark cannot take a filtered percentile
    lateness = ibis.ifelse(late, t.late_hours, ibis.null("float64"))
    metrics = {
        "total": t.count(),
        **{state.value: n(state) for state in PromiseState},
        **{
            f"broken_{r.value}": (t.broken_reason == r.value).fill_null(False).sum().cast("int64")
            for r in BrokenReason
        },
        "kept_rate": kept.sum() / resolved.sum().nullif(0),
        "exceeded_rate": (t.state == PromiseState.EXCEEDED.value).sum() / resolved.sum().nullif(0),
        "broken_rate": broken.sum() / resolved.sum().nullif(0),
        "below_baseline": t.below_baseline.sum().cast("int64"),
        "broken_flagged_before": (broken & t.at_risk_at.notnull()).sum().cast("int64"),
        # lateness only where there is one: fulfilled late, not overdue and never fulfilled;
        # to the second (engines interpolate the median in the last bits differently)
        "late_hours_median": lateness.median().round(6),
        "late_hours_max": lateness.max(),
    }
    if spec.by is None:
        return t.aggregate(**metrics)
    dim = dimension(t, spec.by).name(spec.by)
    return t.group_by(dim).aggregate(**metrics).order_by(spec.by)


def baseline_report(t: ir.Table, spec: BaselineReport) -> ir.Table:
    if spec.customer_id is not None:
        t = t.filter(t.customer_id == spec.customer_id)
    done = t.filter(t.fulfilled_at.notnull())
    last = done.duration_hours.argmax(done.opened_at)
    return (
        done.group_by(["customer_id", "rule"])
        .aggregate(
            fulfilled=done.count(),
            usual_hours=done.duration_hours.mean(),
            best_hours=done.duration_hours.min(),
            last_hours=last,
            last_at=done.fulfilled_at.max(),
            below_baseline=done.below_baseline.sum().cast("int64"),
        )
        .order_by(["customer_id", "rule"])
    )


RUNNERS: dict[str, Callable[[ir.Table, Any], ir.Table]] = {
    "promise_report": promise_report,
    "baseline_report": baseline_report,
}


def run(t: ir.Table, spec: PromiseReport | BaselineReport) -> ir.Table:
    return RUNNERS[spec.kind](t, spec)


__all__ = ["DIMENSIONS", "BaselineReport", "PromiseReport", "run"]


@dataclass(frozen=True)
class ScoreByStateReport:
    """Mean review/survey score per promise state: what a kept promise is worth."""

    rule: str = "delivery"
    score_event: str = "review"
    kind: str = "score_by_state"


def score_by_state(t: ir.Table, events: ir.Table, spec: ScoreByStateReport) -> ir.Table:
    promises = t.filter(t.rule == spec.rule)
    scored = events.filter(events.event_type == spec.score_event)
    scored = scored.select(
        s_customer=scored.customer_id,
        s_ref=scored.ref,
        score=attr_number(scored.attrs, "score"),
    )
    joined = promises.join(
        scored, [promises.customer_id == scored.s_customer, promises.ref == scored.s_ref]
    )
    return (
        joined.group_by(["state", "breach"])
        .aggregate(
            reviews=joined.count(),
            mean_score=joined.score.mean(),
            low_share=(joined.score <= 2).mean(),
        )
        .order_by(["state", "breach"])
    )
