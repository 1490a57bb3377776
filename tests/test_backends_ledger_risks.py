"""Milestone risks need their milestone in the log, on every engine (the backends of
tests/test_backends.py, one test per engine): over the demo's log without its hand-offs (no
``order_shipped`` at all, as in an export of placed and delivered dates only) the milestone
risks put no promise at risk; over the whole log the hand-off risk still fires."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from cxloop.analytics.ledger import ledger_expr
from cxloop.domain.promises import ruleset_from_dict
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow

SHIPPED = "order_shipped"
RISKS = [
    {
        "reason": "handoff_missed",
        "kind": "milestone_deadline",
        "milestone": SHIPPED,
        "within": "2d",
    },
    {"reason": "shipped_later", "kind": "milestone_slower_than_usual", "milestone": SHIPPED},
]


def _rules() -> object:
    return ruleset_from_dict(
        {
            "rules": [
                {
                    "name": "delivery",
                    "kind": "delivery",
                    "department": "logistics",
                    "opens_on": "order_placed",
                    "due_after": "7d",
                    "fulfilled_by": "order_delivered",
                    "risks": RISKS,
                }
            ]
        }
    )


def _reasons(backend: Backend, handoffs: bool) -> pd.Series:
    ws = backend.open()
    try:
        as_of = datetime(2100, 1, 1)
        events = ws.events()
        if not handoffs:
            events = events.filter(events.event_type != SHIPPED)
        t = ledger_expr(events, _rules(), as_of)  # type: ignore[arg-type]
        df = t.select("promise_id", "at_risk_reason").execute()
    finally:
        ws.close()
    return df.set_index("promise_id").at_risk_reason.sort_index()


@pytest.mark.parametrize("backend", ENGINES, indirect=True)
def test_milestone_risks_need_the_milestone_in_the_log(backend: Backend) -> None:
    absent = _reasons(backend, handoffs=False)
    assert len(absent) > 0
    assert set(absent.dropna()) == set()
    present = _reasons(backend, handoffs=True)
    assert "handoff_missed" in set(present.dropna())
