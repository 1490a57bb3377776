"""The timeline endpoint's fast path (Arrow -> records -> JSON once, no DataFrame, no
second validation): the same answer as the raw Parquet segments read with pandas, page by
page, masked for viewers, documented in the spec; and a key revoked while the server runs
stops working at the next request."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cxloop.api import create_app
from cxloop.services.access.permissions import create_key, revoke_key
from cxloop.services.log.timeline_rows import arrow_records, timeline_page
from cxloop.services.recovery.policy import load_policy
from cxloop.workspace.workspace import Workspace

Served = tuple[TestClient, dict[str, str], Path]


@pytest.fixture(scope="module")
def served(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("timeline") / "store"  # keys are written: a copy
    shutil.copytree(demo_store, home, ignore=shutil.ignore_patterns("voice"))
    ws = Workspace.open(home)
    try:
        policy = load_policy(None)
        keys = {r: create_key(ws, f"tl-{r}", r, policy)[0] for r in ("viewer", "agent")}
    finally:
        ws.close()
    with TestClient(create_app(home=home)) as client:
        yield client, keys, home


def _raw_log(home: Path) -> pd.DataFrame:
    manifest = json.loads((home / "events" / "manifest.json").read_text())
    files = [home / "events" / s["file"] for s in manifest["segments"]]
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def _expected(log: pd.DataFrame, customer: str) -> list[dict[str, Any]]:
    """The customer's events as the API documents them, computed from the raw segments."""
    mine = log[log.customer_id == customer].sort_values(["ts", "event_id"])
    out = []
    for r in mine.itertuples(index=False):
        attrs: Any = r.attrs
        if isinstance(attrs, str):
            with contextlib.suppress(ValueError):
                attrs = json.loads(attrs)
        out.append(
            {
                "ts": r.ts.strftime("%Y-%m-%dT%H:%M:%S"),
                "department": r.department,
                "event_type": r.event_type,
                "channel": r.channel,
                "ref": r.ref,
                "amount": None if pd.isna(r.amount) else float(r.amount),
                "due_at": None if pd.isna(r.due_at) else r.due_at.strftime("%Y-%m-%dT%H:%M:%S"),
                "attrs": attrs,
                "event_id": r.event_id,
                "source": r.source,
            }
        )
    return out


def test_timeline_pages_equal_the_raw_segments(served: Served, demo_store: Path) -> None:
    client, keys, _ = served
    log = _raw_log(demo_store)
    head = {"Authorization": f"Bearer {keys['agent']}"}
    customers = random.Random(11).sample(sorted(log.customer_id.unique()), 20)
    for customer in customers:
        want = _expected(log, customer)
        got = client.get(f"/api/v1/customers/{customer}/timeline", headers=head)
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        body = got.json()
        assert body["items"] == want[:100] and body["total"] == len(want)
        paged = client.get(
            f"/api/v1/customers/{customer}/timeline?limit=2&offset=1", headers=head
        ).json()
        assert paged["items"] == want[1:3]
        assert paged["next_offset"] == (3 if len(want) > 3 else None)
        past = client.get(f"/api/v1/customers/{customer}/timeline?offset=5000", headers=head)
        assert past.json()["items"] == [] and past.json()["total"] == len(want)


def test_the_records_equal_the_dataframe_path(demo_store: Path) -> None:
    """What the library's typed results are made of is the same on either path."""
    from cxloop.services.log.timeline import TIMELINE_COLUMNS, customer_timeline
    from cxloop.services.log.timeline_rows import frame_records

    ws = Workspace.open(demo_store)
    try:
        log = _raw_log(demo_store)
        for customer in random.Random(5).sample(sorted(log.customer_id.unique()), 30):
            df = customer_timeline(ws, customer)
            items, total = timeline_page(ws, customer)
            assert items == frame_records(df[TIMELINE_COLUMNS]) and total == len(df)
    finally:
        ws.close()


def test_floats_and_timestamps_as_the_dataframe_path_writes_them() -> None:
    import pyarrow as pa

    table = pa.table(
        {
            "ts": pa.array([1_700_000_000_123_456, None], pa.timestamp("us")),
            "amount": pa.array([0.1 + 0.2, float("nan")]),
            "attrs": pa.array(['{"a": 1}', "not json"]),
        }
    )
    from cxloop.services.log.timeline_rows import frame_records

    want = frame_records(table.to_pandas())
    assert arrow_records(table) == want
    assert want[0] == {"ts": "2023-11-14T22:13:20", "amount": 0.3, "attrs": {"a": 1}}


def test_viewers_see_the_timeline_masked(served: Served, demo_store: Path) -> None:
    client, keys, _ = served
    log = _raw_log(demo_store)
    mailed = log[log["attrs"].fillna("").str.contains("@")].customer_id.iloc[0]
    path = f"/api/v1/customers/{mailed}/timeline"
    agent = client.get(path, headers={"Authorization": f"Bearer {keys['agent']}"}).text
    viewer = client.get(path, headers={"Authorization": f"Bearer {keys['viewer']}"}).text
    assert "@customers." in agent and "@customers." not in viewer


def test_a_revoked_key_stops_at_the_next_request(served: Served, demo_store: Path) -> None:
    client, _, home = served
    ws = Workspace.open(home)
    try:
        key, row = create_key(ws, "tl-revoked", "agent", load_policy(None))
        head = {"Authorization": f"Bearer {key}"}
        customer = _raw_log(demo_store).customer_id.iloc[0]
        path = f"/api/v1/customers/{customer}/timeline"
        assert client.get(path, headers=head).status_code == 200
        revoke_key(ws, row["key_id"])  # as the CLI does, from outside the server
        assert client.get(path, headers=head).status_code == 401
    finally:
        ws.close()


def test_the_spec_documents_the_timeline_items(served: Served) -> None:
    client, _, _ = served
    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/api/v1/customers/{customer_id}/timeline"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    item = spec["components"]["schemas"][ref]["properties"]["items"]["items"]["$ref"]
    fields = spec["components"]["schemas"][item.rsplit("/", 1)[1]]["properties"]
    assert list(fields) == [
        "ts", "department", "event_type", "channel", "ref", "amount", "due_at", "attrs",
        "event_id", "source",
    ]  # fmt: skip
