"""The `olist` mapping file gives exactly what the Python mapping it replaced gave.

The Python mapping's output on ../shared/data/olist was recorded before it was removed:
its event ids and content hashes (a digest of the sorted pairs), counts by type and the
rows it quarantined. The mapping file must give the same, row for row.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from cxloop.ingest.mappings import get_mapping
from cxloop.ingest.vocabulary import Vocabulary
from tests.conftest import shared_dataset

pytestmark = pytest.mark.olist

#: sha256 over "event_id content_hash" lines (sorted by event_id) of the Python mapping
PYTHON_DIGEST = "5fa5f2dfcab67032a95c3e2246251c712df675c896b004153bb4a7c672e1a455"
PYTHON_TYPES = {
    "order_canceled": 1234,
    "order_delivered": 5170,
    "order_placed": 8127,
    "order_shipped": 6346,
    "payment_received": 7981,
    "review": 8217,
}
PYTHON_QUARANTINED = {
    ("olist_order_reviews_dataset.csv", r) for r in (875, 2001, 2274, 4326, 4674, 7102, 7353, 7625)
} | {("olist_orders_dataset.csv", r) for r in (229, 1631, 3612, 6502, 6811, 7596, 8004, 8033)}


def test_olist_mapping_file_equals_the_python_mapping_row_for_row() -> None:
    data: Path = shared_dataset("olist")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    Vocabulary(("sales",)).apply(con)
    staged = get_mapping("olist").stage(con, data, "_staged")
    rows = con.execute("SELECT event_id, content_hash FROM _staged ORDER BY event_id").fetchall()
    types = dict(con.execute("SELECT event_type, count(*) FROM _staged GROUP BY 1").fetchall())
    con.close()
    assert staged.rows_read == 48925
    assert types == PYTHON_TYPES
    assert {(Path(p.file).name, p.row) for p in staged.problems} == PYTHON_QUARANTINED
    digest = hashlib.sha256("\n".join(f"{a} {b}" for a, b in rows).encode()).hexdigest()
    assert digest == PYTHON_DIGEST
