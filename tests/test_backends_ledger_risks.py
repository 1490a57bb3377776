"""Milestone risks need their milestone in the log, on every engine (the backends of
tests/test_backends.py, one test per engine): the demo's delivery rule, its milestone renamed
to an event type the log never holds, puts no promise at risk; with the demo's own milestone
(``order_shipped``) the hand-off risk still fires."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from cxloop.analytics.ledger import ledger_expr
from cxloop.domain.promises import ruleset_from_dict
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow

RISKS = [
    {"reason": "handoff_missed", "kind": "milestone_deadline", "milestone": "MILESTONE",
     "within": "2d"},
    {"reason": "shipped_later", "kind": "milestone_slower_than_usual", "milestone": "MILESTONE"},
]  # fmt: skip


def _rules(milestone: str) -> object:
    risks = [{**r, "milestone": milestone} for r in RISKS]
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
                    "risks": risks,
                }
            ]
        }
    )


def _reasons(backend: Backend, milestone: str) -> pd.Series:
    ws = backend.open()
    try:
        as_of = datetime(2100, 1, 1)
        t = ledger_expr(ws.events(), _rules(milestone), as_of)  # type: ignore[arg-type]
        df = t.select("promise_id", "at_risk_reason").execute()
    finally:
        ws.close()
    return df.set_index("promise_id").at_risk_reason.sort_index()


@pytest.mark.parametrize("backend", ENGINES, indirect=True)
def test_milestone_risks_need_the_milestone_in_the_log(backend: Backend) -> None:
    absent = _reasons(backend, "payment_received")  # the demo never logs one
    assert len(absent) > 0
    assert set(absent.dropna()) == set()
    present = _reasons(backend, "order_shipped")  # the demo logs its hand-offs
    assert "handoff_missed" in set(present.dropna())
