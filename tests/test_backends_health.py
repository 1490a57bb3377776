"""The health features and churn labels on every engine: PostgreSQL and Spark give the
embedded store's answers (the contract of tests/test_backends.py, reusing its fixtures)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from cxloop.analytics.health import HealthSpec
from cxloop.services.outcomes import health as health_service
from cxloop.workspace.workspace import Workspace
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow

CUTOFF = datetime(2026, 9, 15)


def _snapshot(ws: Workspace) -> pd.DataFrame:
    df = health_service.snapshot(ws, CUTOFF, HealthSpec(), timedelta(days=45))
    return df.sort_values("customer_id").reset_index(drop=True)


# the engines, once each (Spark over an export is the same engine on another source: the
# reports' contract in test_backends covers that source, and here it cost a Spark minute)
@pytest.mark.parametrize("backend", [e for e in ENGINES if e != "embedded"], indirect=True)
def test_health_snapshot_is_the_embedded_one(backend: Backend, reference: Path) -> None:
    ws = Workspace.open(reference)
    try:
        want = _snapshot(ws)
    finally:
        ws.close()
    ws = backend.open()
    try:
        ours = _snapshot(ws)
    finally:
        ws.close()
    assert len(want) > 1000 and 0 < want["churned"].sum() < len(want)
    # days from seconds: Spark's arithmetic keeps 7 decimals of a day (under 0.01 s)
    pd.testing.assert_frame_equal(
        ours, want, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-7
    )
