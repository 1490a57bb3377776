"""Retention, repeat purchase, lifecycle and the promise-value units on every backend: each
must give the embedded store's answers (the fixtures are tests/test_backends.py's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cxloop.services.outcomes import promise_value, retention
from cxloop.workspace.workspace import Workspace
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow


def _answers(ws: Workspace) -> dict[str, pd.DataFrame]:
    units, _ = promise_value.units(ws)
    keep = ["customer_id", "state", "visits_90d", "revenue_90d", "review_score", "cat_region"]
    return {
        "cohorts": retention.cohort_table(ws, "month", "promise"),
        "repeat": retention.repeat_purchase(ws, "region"),
        "lifecycle": retention.lifecycle(ws, "month", "promise"),
        "units": units[keep],
    }


@pytest.fixture(scope="session")  # the backends' tests interleave modules
def expected(reference: Path) -> dict[str, Any]:
    ws = Workspace.open(reference)
    try:
        return _answers(ws)
    finally:
        ws.close()


@pytest.mark.parametrize("backend", ENGINES, indirect=True)  # one test per engine
def test_outcomes_match_the_embedded_store(
    backend: Backend,
    expected: dict[str, pd.DataFrame],
) -> None:
    ws = backend.open()
    try:
        got = _answers(ws)
    finally:
        ws.close()
    for name, want in expected.items():
        try:
            pd.testing.assert_frame_equal(
                got[name].reset_index(drop=True),
                want.reset_index(drop=True),
                check_dtype=False,
                check_exact=False,
                rtol=1e-9,
            )
        except AssertionError as exc:
            raise AssertionError(f"{backend.name}, {name}: {exc}") from None
