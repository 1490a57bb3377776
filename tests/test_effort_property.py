"""The effort timeline on random issues: the wait parts add up to the elapsed time, and
each part equals a plain-Python walk over the same points (Hypothesis)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.analytics.effort import issue_rows
from cxloop.domain.effort import WAIT_PARTS, EffortRules
from cxloop.workspace.workspace import DUCKDB_FUNCTIONS

T0 = datetime(2024, 1, 1)
RULES = EffortRules()
AS_OF = T0 + timedelta(days=400)


@pytest.fixture(scope="module")
def con() -> Any:
    c = ibis.duckdb.connect()
    for stmt in DUCKDB_FUNCTIONS.strip().split(";"):
        if stmt.strip():
            c.con.execute(stmt)
    return c


point = st.tuples(
    st.sampled_from(["contact_inbound", "reply_sent", "transfer"]),
    st.integers(0, 60 * 24 * 20),  # minutes after T0
    st.sampled_from(["chat", "email", "phone"]),
)
approval = st.tuples(st.integers(0, 60 * 24 * 20), st.one_of(st.none(), st.integers(0, 5000)))


def _events(points: list[tuple[str, int, str]]) -> pd.DataFrame:
    rows = []
    for i, (etype, minute, channel) in enumerate(points):
        attrs = {"hold_seconds": 30} if etype == "transfer" else {}
        rows.append(
            {
                "event_id": f"e{i:03d}",
                "customer_id": "c1",
                "event_type": etype,
                "ts": T0 + timedelta(minutes=minute),
                "ref": "R1",
                "channel": channel,
                "department": "support",
                "attrs": json.dumps(attrs),
            }
        )
    return pd.DataFrame(rows)


def _walk(points: list[tuple[str, int, str]], approvals: list[tuple[float, float]]) -> dict:
    """The reference: sort the points, carry the state, attribute each gap."""
    pts: list[tuple[float, int, str]] = []
    for i, (etype, minute, channel) in enumerate(points):
        t = minute * 60.0
        if etype == "contact_inbound":
            pts.append((t, 0, f"e{i:03d}"))
            if channel == "phone":
                pts.append((t, 1, f"e{i:03d}:live"))
        elif etype == "reply_sent":
            pts.append((t, 1, f"e{i:03d}"))
    for j, (asked, decided) in enumerate(approvals):
        pts += [(asked, 2, f"a{j}:ask"), (decided, 3, f"a{j}:ok")]
    pts.sort()
    parts = dict.fromkeys(("first", "between", "approval", "turn"), 0.0)
    pending, outs, last = 0, 0, None
    for k, (t, kind, _) in enumerate(pts):
        pending += {2: 1, 3: -1}.get(kind, 0)
        outs += kind == 1
        last = {0: "in", 1: "out"}.get(kind, last)
        gap = pts[k + 1][0] - t if k + 1 < len(pts) else 0.0
        if pending > 0:
            parts["approval"] += gap
        elif last == "in":
            parts["first" if outs == 0 else "between"] += gap
        else:
            parts["turn"] += gap
    return {key: v / 3600 for key, v in parts.items()}


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    points=st.lists(point, min_size=1, max_size=10).filter(
        lambda ps: any(p[0] == "contact_inbound" for p in ps)
    ),
    approvals=st.lists(approval, max_size=2),
)
def test_wait_parts_add_up_and_match_a_plain_walk(con: Any, points: list, approvals: list) -> None:
    events = _events(points)
    t0 = (pd.Timestamp(T0) - pd.Timestamp(0)).total_seconds()
    spans = [
        (t0 + a * 60.0, t0 + (a + (d if d is not None else 3000)) * 60.0) for a, d in approvals
    ]
    frame = pd.DataFrame(
        {
            "customer_id": ["c1"] * len(spans),
            "subject": ["R1"] * len(spans),
            "approval_id": [f"a{j}" for j in range(len(spans))],
            "asked": [s[0] for s in spans],
            "decided": [s[1] for s in spans],
        }
    )
    appr = ibis.memtable(frame) if spans else None
    got = con.execute(issue_rows(ibis.memtable(events), RULES, AS_OF, appr))
    assert len(got) == 1  # one customer, one case, no order or subject: one issue
    row = got.iloc[0]
    total = sum(row[p] for p in WAIT_PARTS)
    assert total == pytest.approx(row.elapsed_hours, abs=1e-6)
    assert all(row[p] >= -1e-9 for p in WAIT_PARTS)
    want = _walk(points, [(a - t0, d - t0) for a, d in spans])
    assert row.wait_first_reply_hours == pytest.approx(want["first"], abs=1e-6)
    assert row.wait_between_replies_hours == pytest.approx(want["between"], abs=1e-6)
    assert row.wait_approval_hours == pytest.approx(want["approval"], abs=1e-6)
    assert row.customer_turn_hours == pytest.approx(want["turn"], abs=1e-6)
    contacts = [p for p in points if p[0] == "contact_inbound"]
    assert row.contacts == len(contacts)
    assert row.transfers == sum(p[0] == "transfer" for p in points)
    assert row.replies == sum(p[0] == "reply_sent" for p in points) + sum(
        p[2] == "phone" for p in contacts
    )
