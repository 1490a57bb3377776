"""Funnels and paths: PostgreSQL and Spark give the embedded store's answers on the demo
company (one test per engine; the backends and the reference are test_backends' session
fixtures).

Spark compares the ordered funnel (every option at once: breakdown, exclusion, per-step
window, optional step), its drill-down and paths after a step; the strict and unordered
funnels, the next events and the paths between two steps ran there too (2026-12-06, all
equal) but cost Spark local mode minutes, so the suite holds PostgreSQL to them only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cxloop
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow

FUNNEL = [
    "placed: order_placed",
    "contacted: contact_inbound optional",
    "shipped: order_shipped within 10d",
    "delivered: order_delivered",
    "reviewed: review where score>=4",
]


SHORT = ("ordered", "paths")
FULL = (*SHORT, "strict", "unordered", "next", "between")


def _answers(cx: cxloop.Cxloop, full: bool = True) -> dict[str, Any]:
    ordered = cx.funnel(FUNNEL, window="45d", by="region", exclude=["order_canceled"])
    out = {
        "ordered": ordered.steps,
        "time": ordered.time_to_convert,
        "dropped": list(cx.funnel_dropped(ordered, "reviewed").customer_id),
        "paths": cx.paths(after="order_delivered", steps=3),
    }
    if full:
        strict = cx.funnel(["order_placed", "order_shipped", "order_delivered"], order="strict")
        unordered = cx.funnel(["review", "contact_inbound"], order="unordered", window="30d")
        out |= {
            "next": cx.funnel_next(ordered, "shipped", steps=2),
            "strict": strict.steps,
            "unordered": unordered.steps,
            "between": cx.paths(between=("order_placed", "review"), steps=2),
        }
    return out


@pytest.fixture(scope="session")
def expected_funnels(reference: Path) -> dict[str, Any]:
    with cxloop.open(reference) as cx:
        return _answers(cx)


@pytest.mark.parametrize("backend", [e for e in ENGINES if e != "embedded"], indirect=True)
def test_funnels_and_paths_match_the_embedded_store(
    backend: Backend,
    expected_funnels: dict[str, Any],
) -> None:
    full = backend.name != "spark"
    with backend.cx() as cx:
        got = _answers(cx, full)
    want = expected_funnels
    assert want["ordered"].customers.iloc[0] > 100 and len(want["dropped"]) > 0
    for key in FULL if full else SHORT:
        pd.testing.assert_frame_equal(
            got[key].reset_index(drop=True), want[key].reset_index(drop=True), check_dtype=False
        )
    assert got["time"] == pytest.approx(want["time"])
    assert got["dropped"] == want["dropped"]
