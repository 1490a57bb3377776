"""Effort per issue: the same issues and figures on PostgreSQL and Spark as on the embedded
store (the backends of tests/test_backends.py, one test per engine), approvals included."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

import cxloop
from cxloop.analytics.effort import issue_rows
from cxloop.services import effort
from cxloop.services.effort import load_effort_rules
from tests.test_backends import (  # noqa: F401  (session fixtures)
    ENGINES,
    Backend,
    backend,
    demo_export,
    reference,
)

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
            "decided": start + [3600.0, 7200.0, 86400.0 * 3],
        }
    )


def _rows(cx: cxloop.Cxloop, approvals: pd.DataFrame) -> pd.DataFrame:
    ws = cx.workspace
    expr = issue_rows(ws.events(), load_effort_rules(ws), ws.clock.now(), ibis.memtable(approvals))
    df = ws.ibis.execute(expr).drop(columns=["ended_t"])
    df["started_at"] = pd.to_datetime(df.started_at).astype("datetime64[us]")
    for col in ("contacts", "channels", "replies", "transfers", "approvals"):
        df[col] = df[col].astype("int64")
    return df.sort_values("ik").reset_index(drop=True)


@pytest.fixture(scope="module")
def expected(reference: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:  # noqa: F811
    with cxloop.open(reference) as cx:
        issues = effort.issues(cx.workspace)
        approvals = _approvals(issues)
        return issues, approvals, _rows(cx, approvals)


@pytest.mark.parametrize("backend", ENGINES, indirect=True)
def test_effort_is_the_embedded_stores(
    backend: Backend,  # noqa: F811
    expected: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    issues, approvals, want = expected
    with backend.cx() as cx:
        got_issues = effort.issues(cx.workspace)
        got = _rows(cx, approvals)
    pd.testing.assert_frame_equal(got_issues, issues, check_dtype=False, rtol=1e-9)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)
    assert want.approvals.sum() == 3 and want.wait_approval_hours.sum() > 0
    assert len(issues) > 100
