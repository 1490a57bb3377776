"""Remedy recommendation: a proportionate remedy for a case, and why.

Pure: the facts of the case, of the customer and of similar past cases come in;
a :class:`Recommendation` (remedy lines with amounts and a readable reason)
goes out. Whether the acting role may grant each line is the empowerment
policy's business (:mod:`cxloop.domain.policy`), applied by the service.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

from cxloop.domain.cases import SignalFacts, SignalKind, signal_severity
from cxloop.domain.remedies import CustomerTier, Remedy, Severity


@dataclass(frozen=True)
class CustomerFacts:
    orders: int
    spend: float
    tier: CustomerTier
    broken_recent: int = 0  # broken promises in the last 180 days, this case's excluded
    cases_before: int = 0


@dataclass(frozen=True)
class HistoryBand:
    """Past broken promises of one kind, by how much money went back to the customer."""

    name: str  # none | small | medium | large
    n: int
    retained: int  # of which the customer ordered again within the horizon
    median_share: float  # money given back / order amount

    @property
    def rate(self) -> float:
        return self.retained / self.n if self.n else 0.0


@dataclass(frozen=True)
class History:
    kind: str
    horizon_days: int
    bands: tuple[HistoryBand, ...]


@dataclass(frozen=True)
class CaseFacts:
    case_id: str
    severity: Severity
    signals: tuple[SignalFacts, ...]
    customer: CustomerFacts
    order_amount: float | None = None
    owed_amount: float | None = None  # e.g. the refund promised and not paid


@dataclass(frozen=True)
class RemedyLine:
    remedy: Remedy
    amount: float  # 0 for non-monetary remedies
    why: str


@dataclass(frozen=True)
class Recommendation:
    case_id: str
    severity: Severity
    primary: SignalFacts
    lines: tuple[RemedyLine, ...]
    reason: str
    evidence: dict[str, object] = field(default_factory=dict)


#: Bands of money given back, as a share of the order: (name, upper bound inclusive).
BANDS: tuple[tuple[str, float], ...] = (("none", 0.0), ("small", 0.075), ("medium", 0.2))
MIN_SIMILAR = 5  # a band needs this many past cases before it can overrule the default
MIN_GAIN = 0.05  # … and must retain at least this much better than giving nothing


def tier_for(orders: int, spend: float, high_spend: float) -> CustomerTier:
    """New (first order), high (spend in the top tenth: ``high_spend`` is that line), else
    standard."""
    if orders <= 1:
        return CustomerTier.NEW
    return CustomerTier.HIGH if spend >= high_spend > 0 else CustomerTier.STANDARD


def band_of(share: float) -> str:
    for name, top in BANDS:
        if share <= top:
            return name
    return "large"


def summarize_history(
    kind: str, horizon_days: int, rows: Iterable[tuple[float, float | None, bool]]
) -> History:
    """``rows``: (money given back, order amount, retained) per past broken promise."""
    groups: dict[str, list[tuple[float, bool]]] = {}
    for given, order_amount, retained in rows:
        share = given / order_amount if order_amount and order_amount > 0 else 0.0
        if given > 0 and share == 0.0:
            share = 0.01  # money given on an order of unknown value: a small gesture
        groups.setdefault(band_of(share), []).append((share, retained))
    names = [b[0] for b in BANDS] + ["large"]
    bands = tuple(
        HistoryBand(
            name,
            len(groups[name]),
            sum(r for _, r in groups[name]),
            statistics.median(s for s, _ in groups[name]),
        )
        for name in names
        if name in groups
    )
    return History(kind, horizon_days, bands)


_KIND_ORDER = (
    SignalKind.BROKEN_PROMISE,
    SignalKind.NEGATIVE_FEEDBACK,
    SignalKind.REPEAT_CONTACT,
    SignalKind.AT_RISK_PROMISE,
    SignalKind.TRANSFERS,
    SignalKind.LONG_HOLD,
)


def primary_signal(signals: Iterable[SignalFacts]) -> SignalFacts:
    """The signal the remedy answers: the most severe, then the most concrete kind."""
    return min(
        signals,
        key=lambda s: (-signal_severity(s).rank, _KIND_ORDER.index(s.kind), -s.late_hours),
    )


def default_share(primary: SignalFacts, severity: Severity, customer: CustomerFacts) -> float:
    """The credit, as a share of the order, that the playbook gives before history speaks."""
    if primary.kind is SignalKind.BROKEN_PROMISE and primary.promise_kind == "delivery":
        late = primary.late_hours
        share = 0.05 if late <= 24 else 0.10 if late <= 72 else 0.15
        if primary.breach == "not_fulfilled":
            share = 0.10
    else:
        share = {Severity.LOW: 0.0, Severity.MEDIUM: 0.05}.get(severity, 0.10)
    if customer.tier is CustomerTier.HIGH:
        share *= 1.5
    if customer.broken_recent >= 2:
        share += 0.05  # it keeps happening to this customer
    return min(share, 0.25)


def learned_share(history: History | None) -> tuple[float, HistoryBand, HistoryBand] | None:
    """The share that similar past cases say works best, when they say it clearly enough:
    the band (other than "none") with the best retention, at least ``MIN_SIMILAR`` cases,
    retaining ``MIN_GAIN`` better than giving nothing."""
    if history is None:
        return None
    bands = {b.name: b for b in history.bands}
    nothing = bands.get("none")
    if nothing is None or nothing.n < MIN_SIMILAR:
        return None
    best = max(
        (b for b in history.bands if b.name != "none" and b.n >= MIN_SIMILAR),
        key=lambda b: (b.rate, b.n),
        default=None,
    )
    if best is None or best.rate < nothing.rate + MIN_GAIN:
        return None
    return best.median_share, best, nothing


def _money(share: float, order_amount: float | None, severity: Severity) -> float:
    if share <= 0:
        return 0.0
    if order_amount and order_amount > 0:
        return float(max(5, round(share * order_amount)))
    return {Severity.LOW: 5.0, Severity.MEDIUM: 10.0, Severity.HIGH: 20.0}.get(severity, 40.0)


def _playbook(p: SignalFacts, owed: float | None) -> list[tuple[Remedy, str]]:
    """The non-monetary part of the remedy for the primary signal."""
    if p.kind is SignalKind.BROKEN_PROMISE:
        if p.promise_kind == "delivery" and p.breach == "not_fulfilled":
            return [(Remedy.APOLOGY, "the order never arrived"), (Remedy.EXPEDITE, "ship now")]
        if p.promise_kind == "replacement":
            return [(Remedy.APOLOGY, "the replacement is late"), (Remedy.EXPEDITE, "ship now")]
        if p.promise_kind == "refund" and owed:
            return [(Remedy.APOLOGY, "the refund is late"), (Remedy.REFUND, "pay it now")]
        if p.promise_kind in ("callback", "follow_up"):
            return [(Remedy.APOLOGY, "we did not call"), (Remedy.CALLBACK, "call today")]
        return [(Remedy.APOLOGY, f"{p.promise_kind} promise broken")]
    if p.kind is SignalKind.AT_RISK_PROMISE:
        return [(Remedy.EXPEDITE, "keep the promise before it breaks")]
    if p.kind in (SignalKind.NEGATIVE_FEEDBACK, SignalKind.REPEAT_CONTACT):
        return [(Remedy.CALLBACK, "a person calls to fix it"), (Remedy.APOLOGY, "")]
    return [(Remedy.APOLOGY, "the contact took too much effort")]


def describe(p: SignalFacts) -> str:
    """A short phrase for a signal: "broken delivery promise, 3.5 days late"."""
    if p.kind is SignalKind.BROKEN_PROMISE:
        if p.breach == "not_fulfilled":
            return f"broken {p.promise_kind} promise, not fulfilled"
        days = p.late_hours / 24
        late = f"{days:.1f} days late" if days >= 1 else f"{p.late_hours:.0f} hours late"
        return f"broken {p.promise_kind} promise, {late}"
    if p.kind is SignalKind.NEGATIVE_FEEDBACK:
        return f"{p.metric or 'feedback'} score {p.score:g}"
    if p.kind is SignalKind.REPEAT_CONTACT:
        return f"contact number {p.contacts} on the same issue"
    if p.kind is SignalKind.AT_RISK_PROMISE:
        return f"{p.promise_kind} promise at risk ({p.breach or 'warning'})"
    if p.kind is SignalKind.LONG_HOLD:
        return f"held {p.hold_seconds / 60:.0f} minutes"
    return f"transferred {p.transfers} times"


def _customer_phrase(c: CustomerFacts) -> str:
    orders = f"{c.orders} order" + ("s" if c.orders != 1 else "")
    plural = "s" if c.broken_recent != 1 else ""
    extra = (
        f", {c.broken_recent} other broken promise{plural} in 180 days" if c.broken_recent else ""
    )
    return f"customer with {orders} ({c.spend:,.2f} spent, {c.tier} tier){extra}"


def recommend(facts: CaseFacts, history: History | None) -> Recommendation:
    """The proportionate remedy for a case (see docs/recovery.md for the playbook)."""
    p = primary_signal(facts.signals)
    share = default_share(p, facts.severity, facts.customer)
    learned = learned_share(history) if p.kind is SignalKind.BROKEN_PROMISE else None
    parts = [describe(p), _customer_phrase(facts.customer)]
    if learned is not None:
        share, best, nothing = learned
        parts.append(
            f"similar cases kept the customer {best.rate:.0%} of the time with a "
            f"~{best.median_share:.0%} credit (n={best.n}) vs {nothing.rate:.0%} with "
            f"nothing (n={nothing.n})"
        )
    elif history is not None:
        n = sum(b.n for b in history.bands)
        parts.append(f"similar cases (n={n}) show no clearly better credit: playbook default")
    lines = [
        RemedyLine(r, (facts.owed_amount or 0.0) if r is Remedy.REFUND else 0.0, why)
        for r, why in _playbook(p, facts.owed_amount)
    ]
    amount = _money(share, facts.order_amount, facts.severity)
    if amount > 0:
        lines.append(RemedyLine(Remedy.CREDIT, amount, f"{share:.0%} of the order"))
    return Recommendation(
        facts.case_id,
        facts.severity,
        p,
        tuple(lines),
        "; ".join(parts) + ".",
        {"credit_share": round(share, 4), "learned": learned is not None},
    )


# --- what worked before (issue 19: which remedies won customers back) ----------------------
@dataclass(frozen=True)
class Worked:
    """The estimated uplift on retention of one remedy in one amount band, for past failures
    of the same kind (see :mod:`cxloop.services.outcomes.remedies_report`)."""

    remedy: str
    band: str
    top: float  # the band's highest amount (inf: no top; 0 for remedies without money)
    uplift: float
    low: float
    high: float
    n: int

    def text(self) -> str:
        return (
            f"{self.remedy} {self.band} {self.uplift:+.0%} "
            f"(95% CI {self.low:+.0%} to {self.high:+.0%}, n={self.n})"
        )


def _cheapest_credit(worked: tuple[Worked, ...], not_worse: float) -> Worked | None:
    """The cheapest credit band (giving nothing counts, uplift 0) whose uplift is at most
    ``not_worse`` below the best one's; None when no credit band was estimated."""
    credits = sorted((w for w in worked if w.remedy == Remedy.CREDIT.value), key=lambda w: w.top)
    if not credits:
        return None
    nothing = Worked(Remedy.CREDIT.value, "nothing", 0.0, 0.0, 0.0, 0.0, 0)
    options = [nothing, *credits]
    best = max(w.uplift for w in options)
    return next(w for w in options if w.uplift >= best - not_worse)


def with_what_worked(
    rec: Recommendation, worked: tuple[Worked, ...], not_worse: float, why_not: str = ""
) -> Recommendation:
    """``rec`` told what worked before: each estimated remedy's uplift; a credit above the
    cheapest band that did not retain worse is lowered to that band's top (to nothing when
    giving nothing did as well). Without estimates, ``rec`` as it was, saying why."""
    found = [{**asdict(w), "top": None if math.isinf(w.top) else w.top} for w in worked]
    evidence = dict(rec.evidence, what_worked=found)
    if not worked:
        reason = rec.reason.rstrip(".") + f"; what worked before: {why_not}, playbook as is."
        return replace(rec, reason=reason, evidence=evidence | {"what_worked_note": why_not})
    said = "what worked before: " + ", ".join(w.text() for w in worked)
    pick = _cheapest_credit(worked, not_worse)
    lines = list(rec.lines)
    for i, line in enumerate(lines):
        if line.remedy is Remedy.CREDIT and pick is not None and line.amount > pick.top:
            if pick.top <= 0:
                said += (
                    f"; no credit retained better than none: the {line.amount:g} credit is dropped"
                )
                lines.pop(i)
            else:
                said += (
                    f"; credit lowered from {line.amount:g} to {pick.top:g} "
                    f"({pick.band} did not retain worse)"
                )
                why = f"{line.why}, capped at {pick.top:g} by what worked"
                lines[i] = replace(line, amount=pick.top, why=why)
            break
    return replace(
        rec,
        lines=tuple(lines),
        reason=rec.reason.rstrip(".") + "; " + said + ".",
        evidence=evidence,
    )
