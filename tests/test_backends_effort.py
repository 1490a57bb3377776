"""Effort per issue: the same issues and figures on PostgreSQL and Spark as on the embedded
store (the backends of tests/test_backends.py, one test per engine), approvals included."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

import cxloop
from cxloop.analytics.effort import issue_rows
from cxloop.services.journeys import effort
from cxloop.services.journeys.effort import load_effort_rules
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow


def _approvals(issues: pd.DataFrame) -> pd.DataFrame:
    """Approvals on a few issues' orders: one decided within the issue, one pending."""
    picked = issues.sort_values("elapsed_hours").tail(3)
    start = (picked.started_at - pd.Timestamp(0)).dt.total_seconds().to_numpy()
    return pd.DataFrame(
        {
            "customer_id": list(picked.customer_id),
            "subject": list(picked.subject),
            "approval_id": ["a1", "a2", "a3"],
            "asked": start + 600.0,
            "decided": start + np.array([3600.0, 7200.0, 86400.0 * 3]),
        }
    )


def _rows(cx: cxloop.Cxloop, approvals: pd.DataFrame) -> pd.DataFrame:
    ws = cx.workspace
    cached: list[ibis.Table] = []

    def keep(t: ibis.Table) -> ibis.Table:  # as the service does: the contacts once
        cached.append(ws.cache(t))
        return cached[-1]

    rules, appr = load_effort_rules(ws), ibis.memtable(approvals)
    df = ws.ibis.execute(issue_rows(ws.events(), rules, ws.clock.now(), appr, keep))
    for t in cached:
        t.release()
    df = df.drop(columns=["ended_t"])
    df["started_at"] = pd.to_datetime(df.started_at).astype("datetime64[us]")
    for col in ("contacts", "channels", "replies", "transfers", "approvals"):
        df[col] = df[col].astype("int64")
    return df.sort_values("ik").reset_index(drop=True)


@pytest.fixture(scope="session")  # the backends' tests interleave modules
def expected(reference: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    with cxloop.open(reference) as cx:
        approvals = _approvals(effort.issues(cx.workspace))
        return approvals, _rows(cx, approvals)


@pytest.mark.parametrize("backend", ENGINES, indirect=True)
def test_effort_is_the_embedded_stores(
    backend: Backend,
    expected: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    approvals, want = expected
    with backend.cx() as cx:
        got = _rows(cx, approvals)  # one run per engine: Spark local takes minutes
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)
    assert want.approvals.sum() == 3 and want.wait_approval_hours.sum() > 0
    assert len(want) > 100 and want.transfers.sum() > 0
