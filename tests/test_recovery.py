"""The remedy recommender (pure): playbook, customer adjustments, learning from history."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cxloop.domain.cases import SignalFacts, SignalKind
from cxloop.domain.recovery import (
    MIN_SIMILAR,
    CaseFacts,
    CustomerFacts,
    History,
    HistoryBand,
    learned_share,
    primary_signal,
    recommend,
    summarize_history,
    tier_for,
)
from cxloop.domain.remedies import CustomerTier, Remedy, Severity

LATE = SignalFacts(SignalKind.BROKEN_PROMISE, "delivery", "late", 50.0)
STANDARD = CustomerFacts(orders=6, spend=900.0, tier=CustomerTier.STANDARD)


def _case(
    *signals: SignalFacts, customer: CustomerFacts = STANDARD, order: float = 200.0
) -> CaseFacts:
    return CaseFacts("CS-1", Severity.MEDIUM, signals, customer, order)


def test_late_delivery_gets_apology_and_a_credit_by_lateness() -> None:
    rec = recommend(_case(LATE), None)
    assert [ln.remedy for ln in rec.lines] == [Remedy.APOLOGY, Remedy.CREDIT]
    assert rec.lines[-1].amount == 20.0  # 10 % of 200 (between 24 h and 72 h late)
    assert rec.reason == (
        "broken delivery promise, 2.1 days late; "
        "customer with 6 orders (900.00 spent, standard tier)."
    )


def test_high_value_and_repeated_failures_raise_the_credit_within_the_cap() -> None:
    vip = CustomerFacts(orders=12, spend=5000.0, tier=CustomerTier.HIGH, broken_recent=3)
    rec = recommend(_case(LATE, customer=vip), None)
    assert rec.lines[-1].amount == 40.0  # (10 % x 1.5 + 5 points) of 200
    very_late = SignalFacts(SignalKind.BROKEN_PROMISE, "delivery", "late", 400.0)
    capped = recommend(_case(very_late, customer=vip), None)
    assert capped.lines[-1].amount == 50.0  # 25 % cap


def test_the_primary_signal_is_the_most_severe() -> None:
    hold = SignalFacts(SignalKind.LONG_HOLD, hold_seconds=900)
    never = SignalFacts(SignalKind.BROKEN_PROMISE, "delivery", "not_fulfilled")
    assert primary_signal([hold, LATE, never]) is never
    rec = recommend(_case(hold, never), None)
    assert [ln.remedy for ln in rec.lines][:2] == [Remedy.APOLOGY, Remedy.EXPEDITE]


def test_a_missed_callback_is_answered_with_a_callback() -> None:
    missed = SignalFacts(SignalKind.BROKEN_PROMISE, "callback", "not_fulfilled")
    remedies = [ln.remedy for ln in recommend(_case(missed), None).lines]
    assert Remedy.CALLBACK in remedies and Remedy.APOLOGY in remedies


def test_history_overrules_the_playbook_only_when_it_clearly_retains_better() -> None:
    rows = [(0.0, 100.0, i < 4) for i in range(10)]  # nothing given: 40 % ordered again
    rows += [(12.0, 100.0, i < 5) for i in range(6)]  # ~12 %: 83 % ordered again
    history = summarize_history("delivery", 60, rows)
    assert {b.name: (b.n, b.retained) for b in history.bands} == {"none": (10, 4), "medium": (6, 5)}
    rec = recommend(_case(LATE), history)
    assert rec.lines[-1].amount == 24.0  # 12 % of 200, learned
    assert "similar cases kept the customer 83% of the time with a ~12% credit (n=6)" in rec.reason
    thin = summarize_history("delivery", 60, rows[:10] + rows[10 : 10 + MIN_SIMILAR - 1])
    assert learned_share(thin) is None
    assert "no clearly better credit" in recommend(_case(LATE), thin).reason


@given(
    st.lists(
        st.tuples(
            st.floats(0, 500, allow_nan=False),
            st.one_of(st.none(), st.floats(1, 1000, allow_nan=False)),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_learned_share_comes_from_a_band_that_beats_giving_nothing(
    rows: list[tuple[float, float | None, bool]],
) -> None:
    history = summarize_history("delivery", 60, rows)
    assert sum(b.n for b in history.bands) == len(rows)
    learned = learned_share(history)
    if learned is not None:
        share, best, nothing = learned
        assert best.name != "none" and best.n >= MIN_SIMILAR
        assert best.rate >= nothing.rate + 0.05 and share == best.median_share


def test_tiers() -> None:
    assert tier_for(1, 10_000.0, 500.0) is CustomerTier.NEW
    assert tier_for(4, 600.0, 500.0) is CustomerTier.HIGH
    assert tier_for(4, 400.0, 500.0) is CustomerTier.STANDARD
    assert tier_for(4, 0.0, 0.0) is CustomerTier.STANDARD


def test_history_band_rate() -> None:
    assert HistoryBand("small", 4, 1, 0.05).rate == 0.25
    assert History("delivery", 60, ()).bands == ()
