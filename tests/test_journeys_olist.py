"""Journeys on the public Olist data agree with a plain pandas computation over the raw
CSVs: reach, late deliveries, drop-offs, repurchases, a where-it-tanks finding and the
customers behind it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import fisher_exact

import cxloop
from tests.conftest import shared_dataset

pytestmark = pytest.mark.olist


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[cxloop.Cxloop, Path]]:
    data = shared_dataset("olist")
    cx = cxloop.open(tmp_path_factory.mktemp("olist-journeys") / "store")
    cx.ingest(data, source="olist")
    yield cx, data
    cx.close()


def first_orders(data: Path) -> pd.DataFrame:
    """Each person's first order (as the journey's purchase stage: by time, then order id),
    with the raw facts the stages read."""
    o = pd.read_csv(data / "olist_orders_dataset.csv")
    c = pd.read_csv(data / "olist_customers_dataset.csv")
    # the mapping quarantines orders that say 'delivered' without a delivery date
    o = o[~((o["order_status"] == "delivered") & o["order_delivered_customer_date"].isna())]
    o = o.merge(c, on="customer_id")
    for col in ("order_purchase_timestamp", "order_delivered_customer_date"):
        o[col] = pd.to_datetime(o[col])
    o["due"] = pd.to_datetime(o["order_estimated_delivery_date"]).dt.normalize() + pd.Timedelta(
        hours=23, minutes=59, seconds=59
    )
    o = o.sort_values(["customer_unique_id", "order_purchase_timestamp", "order_id"])
    o["n_orders"] = o.groupby("customer_unique_id")["order_id"].transform("size")
    return o.drop_duplicates("customer_unique_id")


def test_map_matches_pandas(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, data = olist
    first = first_orders(data)
    delivered = first["order_delivered_customer_date"].notna()
    late = delivered & (first["order_delivered_customer_date"] > first["due"])
    m = cx.journey_map().set_index("stage")
    assert m.loc["purchase", "customers"] == len(first) == 8008
    assert m.loc["delivery", "customers"] == delivered.sum()
    assert m.loc["delivery", "late"] == late.sum()
    assert m.loc["purchase", "dropped"] == (~delivered).sum()
    assert m.loc["repurchase", "customers"] == (first["n_orders"] > 1).sum()
    hours = (
        first.loc[delivered, "order_delivered_customer_date"]
        - first.loc[delivered, "order_purchase_timestamp"]
    ).dt.total_seconds() / 3600
    assert m.loc["delivery", "median_hours_from_previous"] == pytest.approx(hours.median())
    # the drill-down lists exactly the customers behind the figures
    dropped = cx.journey_customers("purchase", "dropped")
    assert len(dropped) == m.loc["purchase", "dropped"]
    assert set(dropped["customer_id"]) == set(first.loc[~delivered, "customer_unique_id"])


def test_where_it_tanks_never_delivered_in_rio(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, data = olist
    first = first_orders(data)
    undelivered = first["order_delivered_customer_date"].isna()
    rj = first["customer_state"] == "RJ"
    a, b = int((rj & undelivered).sum()), int((rj & ~undelivered).sum())
    c, d = int((~rj & undelivered).sum()), int((~rj & ~undelivered).sum())
    tanks = cx.journey_tanks("drop")
    row = tanks[(tanks["stage"] == "purchase") & (tanks["factor"] == "purchase: region=RJ")]
    assert len(row) == 1
    r = row.iloc[0]
    assert (r["with_factor"], r["with_factor_and_outcome"]) == (a + b, a)
    assert r["odds_ratio"] == pytest.approx(a * d / (b * c))
    assert r["p_value"] == pytest.approx(fisher_exact([[a, b], [c, d]])[1])
    assert r["or_low"] > 1 and r["significant"]
    behind = cx.journey_customers("purchase", "dropped", "purchase: region=RJ")
    assert len(behind) == a
    assert set(behind["customer_id"]) == set(first.loc[rj & undelivered, "customer_unique_id"])
    # q-values are Benjamini-Hochberg over every tested factor
    assert (tanks["q_value"] >= tanks["p_value"] - 1e-15).all()


def test_path_of_a_repeat_buyer(olist: tuple[cxloop.Cxloop, Path]) -> None:
    cx, data = olist
    first = first_orders(data)
    who = first[(first["n_orders"] > 1) & first["order_delivered_customer_date"].notna()].iloc[0]
    path = cx.journey_path(who["customer_unique_id"])
    stages = path.set_index("stage")
    assert {"purchase", "delivery", "repurchase"} <= set(stages.index)
    assert stages.loc["purchase", "ref"] == who["order_id"]
    assert stages.loc["delivery", "ref"] == who["order_id"]
