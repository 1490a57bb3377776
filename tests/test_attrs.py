"""Reading `attrs` through the engine function `cx_attr` (analytics/attrs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import ibis

from cxloop.analytics.attrs import attr_number, attr_text
from cxloop.workspace.workspace import Workspace


def test_text_numbers_and_missing_keys(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "store")
    rows = [
        {"region": "north", "score": 9, "amount": "12.50", "odd key": "x", "flag": True},
        {"score": 3.5, "region": None},
        {},
    ]
    t = ibis.memtable({"attrs": [json.dumps(r) for r in rows]})
    out = ws.ibis.execute(
        t.select(
            region=attr_text(t.attrs, "region"),
            score_text=attr_text(t.attrs, "score"),
            score=attr_number(t.attrs, "score"),
            amount=attr_number(t.attrs, "amount"),  # a number written as text
            odd=attr_text(t.attrs, "odd key"),
            flag=attr_text(t.attrs, "flag"),
        )
    )
    assert out.region.tolist()[:1] == ["north"] and out.region.isna().tolist()[1:] == [True, True]
    assert out.score_text.tolist()[:2] == ["9", "3.5"]
    assert out.score.tolist()[:2] == [9.0, 3.5] and out.score.isna().iloc[2]
    assert out.amount.iloc[0] == 12.5
    assert out.odd.iloc[0] == "x" and out.flag.iloc[0] == "true"
    ws.close()
