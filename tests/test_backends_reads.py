"""Point reads on PostgreSQL (one parametrised query each, no Ibis compile): the same
DataFrames as the Ibis expressions there, and the embedded store's answers (the backend
and the reference are test_backends' session fixtures)."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from cxloop.services.log.timeline import customer_timeline, timeline_expr
from cxloop.services.promises import ledger as ledger_service
from cxloop.workspace.workspace import Workspace
from tests.engines import Backend

pytestmark = pytest.mark.slow


def _loose(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_point_reads_on_postgres(backend: Backend, reference: Path) -> None:
    ws, ref = backend.open(), Workspace.open(reference)
    try:
        ids = sorted(ref.events().customer_id.value_counts().execute()["customer_id"])
        for c in [*random.Random(7).sample(ids, 15), "nobody-at-all"]:
            fast = customer_timeline(ws, c)
            pd.testing.assert_frame_equal(fast, timeline_expr(ws.events(), c).execute())
            _loose(fast, customer_timeline(ref, c))
            mine = ledger_service.customer_promises(ws, c)
            scan = ledger_service.promises_expr(ws, customer_id=c).execute()
            pd.testing.assert_frame_equal(mine, scan)
            cols = ["promise_id", "state", "due_at", "fulfilled_at", "amount"]
            _loose(mine[cols], ledger_service.customer_promises(ref, c)[cols])
    finally:
        ws.close()
        ref.close()
