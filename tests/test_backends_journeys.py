"""Journeys on every backend (the contract of tests/test_backends.py): the journey map,
the scores by stage, where it tanks and a drill-down equal the embedded store's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cxloop
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow


def _answers(cx: cxloop.Cxloop) -> dict[str, Any]:
    with cx.journeys() as j:
        tanks = j.tanks()
        first = tanks.iloc[0] if len(tanks) else None
        return {
            "map": j.stage_map(),
            "scores": j.stage_scores(),
            "tanks": tanks,
            "dropped": j.customers(j.journey.names[0], "dropped"),
            "behind": j.customers(first["stage"], "reached", first["factor"])
            if first is not None
            else None,
        }


@pytest.fixture(scope="session")  # the backends' tests interleave modules
def expected(reference: Path) -> dict[str, Any]:
    with cxloop.open(reference) as cx:
        return _answers(cx)


def _same(ours: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True),
        want.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        rtol=1e-6,
    )


# the engines, once each (Spark over an export is the same engine on another source: the
# reports' contract in test_backends covers that source, and here it cost a Spark minute)
@pytest.mark.parametrize("backend", [e for e in ENGINES if e != "embedded"], indirect=True)
def test_journeys_match_the_embedded_store(
    backend: Backend,
    expected: dict[str, Any],
) -> None:
    cx = backend.cx()
    try:
        got = _answers(cx)
    finally:
        cx.close()
    assert expected["map"]["customers"].iloc[0] > 0
    assert len(expected["tanks"]) > 0
    for key in ("map", "scores", "tanks"):
        _same(got[key], expected[key])
    for key in ("dropped", "behind"):
        assert sorted(got[key]["customer_id"]) == sorted(expected[key]["customer_id"])
