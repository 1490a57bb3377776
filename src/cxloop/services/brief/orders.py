"""The orders behind the brief's figures: every order's value, and the order a customer's
text is about (the one it names, else their latest order placed before it)."""

from __future__ import annotations

import pandas as pd

from cxloop.domain.events import EventType
from cxloop.workspace.workspace import Workspace


def orders_of(ws: Workspace) -> pd.DataFrame:
    e = ws.events()
    orders = (
        e.filter(e.event_type == EventType.ORDER_PLACED.value)
        .select("customer_id", "ref", "ts", "amount")
        .execute()
        .dropna(subset=["ref", "amount"])
    )
    return orders.assign(ts=pd.to_datetime(orders["ts"]).astype("datetime64[ns]"))


def text_orders(said: pd.DataFrame, orders: pd.DataFrame) -> pd.Series:
    """Each text's order: the ref it names, else (a contact that names none) the customer's
    latest order placed at or before it: the revenue behind a complaint is that of the
    customer's orders, not nothing."""
    named = said["ref"].reset_index(drop=True)  # positions: a text may sit under two subjects
    if not named.isna().any() or orders.empty:
        return said["ref"]
    left = pd.DataFrame(
        {
            "row": range(len(said)),
            "customer_id": said["customer_id"].to_numpy(),
            "ts": pd.to_datetime(said["ts"]).astype("datetime64[ns]").to_numpy(),
        }
    )
    right = orders[["customer_id", "ts", "ref"]].rename(columns={"ref": "order"})
    found = pd.merge_asof(
        left.sort_values("ts"), right.sort_values("ts"), on="ts", by="customer_id"
    ).set_index("row")["order"]
    return pd.Series(named.fillna(found.sort_index()).to_numpy(), index=said.index)
