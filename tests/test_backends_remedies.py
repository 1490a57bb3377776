"""The remedies report's failure table (Ibis, engine-side) on PostgreSQL and Spark equals
the embedded store's, on the demo company (the engine contract, tests/test_backends.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxloop.services.outcomes.remedies import failure_frame
from cxloop.workspace.workspace import Workspace
from tests.engines import ENGINES, Backend

pytestmark = pytest.mark.slow

KEYS = ["promise_id"]
COLUMNS = [
    "promise_id",
    "customer_id",
    "subject",
    "kind",
    "prior_orders",
    "prior_spend",
    "prior_broken",
    "order_amount",
    "tenure_days",
    "remedy",
    "amount",
    "retained_90",
    "observed_90",
    "retained_180",
    "observed_180",
]


def _frame(ws: Workspace) -> pd.DataFrame:
    df = failure_frame(ws)[COLUMNS]
    return df.sort_values(KEYS).reset_index(drop=True)


@pytest.fixture(scope="session")
def reference_failures(reference: Path) -> pd.DataFrame:
    ws = Workspace.open(reference)
    try:
        return _frame(ws)
    finally:
        ws.close()


# the engines, once each (Spark over an export is the same engine on another source: the
# reports' contract in test_backends covers that source, and here it cost a Spark minute)
@pytest.mark.parametrize("backend", [e for e in ENGINES if e != "embedded"], indirect=True)
def test_remedies_failure_table_is_the_embedded_one(
    backend: Backend,
    reference_failures: pd.DataFrame,
) -> None:
    ws = backend.open()
    try:
        ours = _frame(ws)
    finally:
        ws.close()
    assert len(reference_failures) > 100
    pd.testing.assert_frame_equal(
        ours, reference_failures, check_dtype=False, check_exact=False, rtol=1e-9
    )
