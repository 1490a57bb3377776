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


def test_olist_mapping_quarantines_hostile_rows(tmp_path: Path) -> None:
    orders = (
        "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
        "order_delivered_carrier_date,order_delivered_customer_date,"
        "order_estimated_delivery_date\n"
        "o1,c1,delivered,2018-01-01 10:00:00,2018-01-01 11:00:00,2018-01-02 10:00:00,"
        "2018-01-05 10:00:00,2018-01-10 00:00:00\n"
        "o2,c9,shipped,2018-01-01 10:00:00,,,,2018-01-10 00:00:00\n"
        "o3,c1,teleported,2018-01-01 10:00:00,,,,2018-01-10 00:00:00\n"
        "o4,c1,delivered,2018-01-01 10:00:00,,,,2018-01-10 00:00:00\n"
    )
    (tmp_path / "olist_orders_dataset.csv").write_text(orders)
    (tmp_path / "olist_customers_dataset.csv").write_text(
        "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state\n"
        "c1,p1,01000,sao paulo,sp\n"
    )
    (tmp_path / "olist_order_items_dataset.csv").write_text(
        "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n"
        "o1,1,x,s1,2018-01-03 10:00:00,10.5,2\no1,2,x,s1,2018-01-03 10:00:00,abc,2\n"
    )
    (tmp_path / "olist_order_reviews_dataset.csv").write_text(
        "review_id,order_id,review_score,review_comment_title,review_comment_message,"
        "review_creation_date,review_answer_timestamp\n"
        "r1,o1,5,,ótimo,2018-01-06 00:00:00,2018-01-07 10:00:00\n"
        "r2,o1,7,,?,2018-01-06 00:00:00,\nr3,o3,1,,ruim,2018-01-06 00:00:00,\n"
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    staged = get_mapping("olist").stage(con, tmp_path, "_staged")
    events = con.execute("SELECT event_id, amount, attrs FROM _staged ORDER BY 1").fetchall()
    assert [e[0] for e in events] == [
        "olist:order_delivered:o1",
        "olist:order_placed:o1",
        "olist:order_shipped:o1",
        "olist:payment_received:o1",
        "olist:review:r1:o1",
    ]
    assert events[1][1] == 12.5  # the item with a bad price is left out, and quarantined
    problems = {(Path(p.file).name, p.row, p.field): p.reason for p in staged.problems}
    assert (
        "no row with customer_id = c9" in problems[("olist_orders_dataset.csv", 2, "customer_id")]
    )
    assert (
        "teleported is not in the map" in problems[("olist_orders_dataset.csv", 3, "order_status")]
    )
    assert (
        "delivery date is empty"
        in problems[("olist_orders_dataset.csv", 4, "order_delivered_customer_date")]
    )
    assert "not a valid number: abc" in problems[("olist_order_items_dataset.csv", 2, "price")]
    assert "1 to 5" in problems[("olist_order_reviews_dataset.csv", 2, "review_score")]
    assert (
        "no row with order_id = o3" in problems[("olist_order_reviews_dataset.csv", 3, "order_id")]
    )
