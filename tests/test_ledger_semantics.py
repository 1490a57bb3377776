"""The ledger expression against the pure reference semantics (domain.classify)."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.analytics.ledger import LEDGER_COLUMNS, ledger_expr
from cxloop.domain.promises import PromiseState, broken_reason, classify, ruleset_from_dict

T0 = datetime(2026, 3, 1, 9, 0)
RULES = ruleset_from_dict(
    {
        "rules": [
            {
                "name": "delivery",
                "kind": "delivery",
                "department": "logistics",
                "opens_on": "order_placed",
                "due": "event",
                "due_after": "3d",
                "fulfilled_by": "order_delivered",
                "voided_by": ["order_canceled"],
                "exceeded_margin": "1d",
                "risks": [{"reason": "due_soon", "kind": "due_soon", "before_due": "12h"}],
            }
        ]
    }
)

minutes = st.integers(min_value=0, max_value=20 * 24 * 60).map(lambda m: timedelta(minutes=m))
scenario = st.fixed_dictionaries(
    {
        "due": minutes,
        "fulfilled": st.none() | minutes,
        "voided": st.none() | minutes,
    }
)


def event(i: int, kind: str, at: datetime, due: datetime | None = None) -> dict:
    return {
        "event_id": f"{kind}-{i}",
        "customer_id": f"c{i}",
        "event_type": kind,
        "ts": at,
        "department": "sales",
        "channel": "web",
        "ref": f"o{i}",
        "amount": 10.0,
        "due_at": due,
        "attrs": None,
    }


def build_events(cases: list[dict]) -> pd.DataFrame:
    rows = []
    for i, c in enumerate(cases):
        rows.append(event(i, "order_placed", T0, T0 + c["due"]))
        if c["fulfilled"] is not None:
            rows.append(event(i, "order_delivered", T0 + c["fulfilled"]))
        if c["voided"] is not None:
            rows.append(event(i, "order_canceled", T0 + c["voided"]))
    return pd.DataFrame(rows)


def expected_state(c: dict, as_of: datetime) -> PromiseState:
    due = T0 + c["due"]
    fulfilled = T0 + c["fulfilled"] if c["fulfilled"] is not None else None
    risk_at = due - timedelta(hours=12)
    at_risk = risk_at if fulfilled is None or fulfilled > risk_at else None
    return classify(
        due_at=due,
        as_of=as_of,
        fulfilled_at=fulfilled,
        voided_at=T0 + c["voided"] if c["voided"] is not None else None,
        at_risk_at=at_risk,
        exceeded_margin=timedelta(days=1),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(scenario, min_size=1, max_size=12), as_of=minutes)
def test_ledger_states_match_reference(cases: list[dict], as_of: timedelta) -> None:
    when = T0 + as_of
    con = ibis.duckdb.connect()
    events = ibis.memtable(build_events(cases))
    out = con.execute(ledger_expr(events, RULES, when)).sort_values("customer_id")
    assert list(out.columns) == list(LEDGER_COLUMNS)
    got = dict(zip(out.customer_id, out.state, strict=True))
    pairs = zip(out.customer_id, out.broken_reason, strict=True)
    reasons = {c: None if pd.isna(r) else r for c, r in pairs}
    for i, c in enumerate(cases):
        state = expected_state(c, when)
        assert got[f"c{i}"] == state.value, (c, when)
        known = {k: T0 + c[k] if c[k] is not None and T0 + c[k] <= when else None for k in c}
        reason = broken_reason(state, known["fulfilled"], known["voided"])
        assert reasons[f"c{i}"] == (reason.value if reason else None), (c, when)


def test_baseline_flags_on_time_but_slower_than_usual() -> None:
    """Seed 001: what was a pleasant surprise becomes the expectation."""
    rows = []
    for n, days in enumerate([1, 1, 1, 4.5]):  # used to next-day; the 4th takes 4.5 days
        start = T0 + timedelta(days=10 * n)
        rows.append(event(n, "order_placed", start, start + timedelta(days=5)))
        rows.append(event(n, "order_delivered", start + timedelta(days=days)))
    df = pd.DataFrame(rows).assign(customer_id="same")
    con = ibis.duckdb.connect()
    out = con.execute(ledger_expr(ibis.memtable(df), RULES, T0 + timedelta(days=60)))
    out = out.sort_values("opened_at")
    assert list(out.state) == ["exceeded", "exceeded", "exceeded", "kept"]
    assert list(out.below_baseline) == [False, False, False, True]
    assert out.baseline_hours.iloc[-1] == 24.0
    assert list(out.baseline_n) == [0, 1, 2, 3]
