from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxloop.domain.promises import (
    TRANSITIONS,
    PromiseState,
    can_transition,
    classify,
    parse_duration,
    ruleset_from_dict,
)
from cxloop.errors import RuleError


def default_rules_doc() -> dict:
    return tomllib.loads(resources.files("cxloop.rules").joinpath("default.toml").read_text())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("24h", timedelta(hours=24)),
        ("1d12h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "seven days", "3x", "d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_default_rules_cover_the_six_promise_kinds() -> None:
    rules = ruleset_from_dict(default_rules_doc())
    assert set(rules.kinds) == {
        "delivery",
        "callback",
        "refund",
        "reply",
        "replacement",
        "follow_up",
    }
    assert rules.by_name("delivery").exceeded_margin == timedelta(days=2)
    assert len(rules.version) == 12


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"opens_on": "order_teleported"},
            r"rule #1 \(delivery\), field 'opens_on': unknown event",
        ),
        ({"department": "marketing"}, r"field 'department': unknown department 'marketing'"),
        ({"due": "later"}, r"field 'due': expected 'event' or 'after'"),
        ({"exceeded_margin": "soon"}, r"field 'exceeded_margin': 'soon' is not a duration"),
        ({"colour": "red"}, r"field 'colour': unknown key"),
        ({"kind": ""}, r"field 'kind': is required"),
    ],
)
def test_invalid_rules_name_the_rule_and_field(patch: dict, message: str) -> None:
    doc = default_rules_doc()
    doc["rules"][0].update(patch)
    with pytest.raises(RuleError, match=message):
        ruleset_from_dict(doc)


def test_duplicate_rule_names_are_rejected() -> None:
    doc = default_rules_doc()
    doc["rules"].append(dict(doc["rules"][0]))
    with pytest.raises(RuleError, match="duplicate rule name"):
        ruleset_from_dict(doc)


def test_transition_table_has_terminal_states() -> None:
    for terminal in (
        PromiseState.KEPT,
        PromiseState.EXCEEDED,
        PromiseState.BROKEN,
        PromiseState.CANCELLED,
    ):
        assert TRANSITIONS[terminal] == frozenset()
    assert can_transition(PromiseState.OPEN, PromiseState.AT_RISK)
    assert can_transition(PromiseState.AT_RISK, PromiseState.BROKEN)
    assert not can_transition(PromiseState.AT_RISK, PromiseState.OPEN)
    assert not can_transition(PromiseState.BROKEN, PromiseState.KEPT)


T0 = datetime(2026, 1, 1)
hours = st.integers(min_value=0, max_value=400).map(lambda h: timedelta(hours=h))
maybe_hours = st.none() | hours


@given(
    due=hours,
    fulfilled=maybe_hours,
    voided=maybe_hours,
    risk=maybe_hours,
    as_of=hours,
    margin=st.sampled_from([timedelta(0), timedelta(hours=24)]),
)
def test_state_only_moves_along_the_table_as_time_passes(
    due: timedelta,
    fulfilled: timedelta | None,
    voided: timedelta | None,
    risk: timedelta | None,
    as_of: timedelta,
    margin: timedelta,
) -> None:
    """Judged at two times, the earlier state can always reach the later one."""

    def state(at: timedelta) -> PromiseState:
        return classify(
            due_at=T0 + due,
            as_of=T0 + at,
            fulfilled_at=T0 + fulfilled if fulfilled is not None else None,
            voided_at=T0 + voided if voided is not None else None,
            at_risk_at=T0 + risk if risk is not None else None,
            exceeded_margin=margin,
        )

    early, late = state(as_of), state(as_of + timedelta(hours=100))
    assert early == late or can_transition(early, late)


def test_classify_examples() -> None:
    due = T0 + timedelta(days=5)
    kw = {
        "due_at": due,
        "voided_at": None,
        "at_risk_at": None,
        "exceeded_margin": timedelta(days=2),
    }
    assert classify(as_of=due, fulfilled_at=due, **kw) is PromiseState.KEPT
    assert classify(as_of=due, fulfilled_at=T0, **kw) is PromiseState.EXCEEDED
    assert (
        classify(as_of=due + timedelta(1), fulfilled_at=due + timedelta(hours=1), **kw)
        is PromiseState.BROKEN
    )
    assert classify(as_of=due + timedelta(1), fulfilled_at=None, **kw) is PromiseState.BROKEN
    assert classify(as_of=T0, fulfilled_at=None, **kw) is PromiseState.OPEN
    kw["at_risk_at"] = T0 + timedelta(days=1)
    assert classify(as_of=T0 + timedelta(days=2), fulfilled_at=None, **kw) is PromiseState.AT_RISK
    # a fact after as_of is not known yet
    assert classify(as_of=T0, fulfilled_at=due, **kw) is PromiseState.OPEN
    kw["at_risk_at"] = None
    # cancelled before due voids it; cancelled after it broke does not
    assert (
        classify(as_of=due, fulfilled_at=None, **{**kw, "voided_at": T0}) is PromiseState.CANCELLED
    )
    assert (
        classify(
            as_of=due + timedelta(9), fulfilled_at=None, **{**kw, "voided_at": due + timedelta(8)}
        )
        is PromiseState.BROKEN
    )
