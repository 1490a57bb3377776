"""No cold starts (docs/refresh.md): an ingest keeps the brief and the dashboard's first
page ready for the new log version, embedding only the texts not seen before; the server
serves them from there and warms the next version in the background after a write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import cxloop
from cxloop.api import create_app
from cxloop.services.access.permissions import create_key
from cxloop.services.brief import refresh
from cxloop.services.recovery.policy import load_policy
from cxloop.settings import Settings
from cxloop.text import embed
from cxloop.workspace.workspace import Workspace
from tests.conftest import demo_copy

NEW_TEXTS = [
    "The parcel came with a cracked lid and nobody answered my refund email",
    "Second delivery this month left in the rain, box soaked through",
    "Great sofa but the assembly screws were missing from the bag",
]


def _reviews(path: Path, customers: list[str], ts: pd.Timestamp) -> Path:
    """Three reviews with new texts."""
    rows = [
        {
            "event_id": f"refresh-{i}",
            "customer_id": customers[i],
            "event_type": "review",
            "ts": (ts - pd.Timedelta(hours=i + 1)).isoformat(),
            "attrs": json.dumps({"score": 2, "text": text}),
        }
        for i, text in enumerate(NEW_TEXTS)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def refreshed(
    demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, int, int]]:
    """A copy of the demo store after an ingest of three new reviews with refresh on: the
    home, the log version, and how many texts the ingest sent to the model."""
    root = tmp_path_factory.mktemp("refresh")
    home = demo_copy(demo_store, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLOOP_REFRESH", "on")
        with cxloop.open(home) as cx:
            voice = cx.voice().frame
            customers = voice["customer_id"].drop_duplicates().head(3).tolist()
            path = _reviews(root / "reviews.csv", customers, pd.Timestamp(cx.now()))
            assert cx.refresh() is not None  # the store as it was, ready (texts embedded)
            before = embed.ENCODED["texts"]
            report = cx.ingest(path)
            embedded = embed.ENCODED["texts"] - before
            assert report.events_new == 3
            version = int(cx.workspace.log.version)
    yield home, version, embedded


def test_an_ingest_embeds_only_the_new_texts(refreshed: tuple[Path, int, int]) -> None:
    home, _, embedded = refreshed
    assert embedded == len(NEW_TEXTS)
    with cxloop.open(home) as cx:  # every customer text of the store has its vector now
        texts = cx.voice().customer_texts
        before = embed.ENCODED["texts"]
        cx.voice().embeddings(texts)
        assert embed.ENCODED["texts"] == before  # nothing left to embed
        assert len(texts) > 100 * len(NEW_TEXTS)


def test_the_first_page_is_ready_for_the_new_version(refreshed: tuple[Path, int, int]) -> None:
    home, version, _ = refreshed
    ws = Workspace.open(home)
    try:
        assert int(ws.log.version) == version
        key = refresh.fingerprint(ws)
        kept = {name: refresh.lookup(ws, name, key) for name in refresh.FIRST_PAGE}
        assert all(v is not None for v in kept.values()), kept.keys()
        for topic_file in ("topics", "sentiment"):  # a fresh brief: the models fitted again
            (home / "voice" / f"{topic_file}.pkl").unlink()
        for name, compute in refresh.FIRST_PAGE.items():
            assert kept[name] == compute(ws), name[0]
        assert refresh.fingerprint(ws) == key  # computing it again changed nothing
        brief = kept[("brief",)]
        assert brief["as_of"].startswith(str(pd.Timestamp(ws.clock.now()).date()))
        # a state change the brief reads (an action on an item) makes the entry stale
        first = brief["candidates"][0]["key"]
        with cxloop.open(home) as cx:
            cx.brief_act(first, note="called the carrier", actor="lee")
        assert refresh.lookup(ws, ("brief",)) is None
        again = refresh.refresh(ws)
        assert again.computed.keys() >= {"brief"} and "dash_promises" in again.computed
        assert refresh.lookup(ws, ("brief",))["actions"][0]["item_key"] == first
        assert refresh.refresh(ws).computed == {}  # nothing changed since: all ready
    finally:
        ws.close()


def test_the_server_serves_it_and_warms_the_next_version(
    refreshed: tuple[Path, int, int],
) -> None:
    home, _, _ = refreshed
    ws = Workspace.open(home)
    try:
        token = create_key(ws, "admin-refresh", "admin", load_policy(None))[0]
        served = refresh.lookup(ws, ("brief",))
    finally:
        ws.close()
    assert served is not None
    settings = Settings.from_env({}, home=str(home), refresh="on", refresh_poll="0")
    app = create_app(settings, warm=True)
    rt = app.state.runtime
    with TestClient(app) as client:
        _wait(lambda: rt._warmer.rounds >= 1)
        version = int(json.loads(client.get("/health").text)["log_version"])
        assert ("brief", version, rt.generation) in rt._cache  # warmed before anyone asked
        got = client.get("/api/v1/brief", headers={"X-API-Key": token})
        assert got.status_code == 200
        assert [c["key"] for c in got.json()["candidates"]] == [
            c["key"] for c in served["candidates"]
        ]
        event = {
            "event_id": "refresh-api-1",
            "customer_id": "CU-REFRESH",
            "event_type": "review",
            "ts": served["as_of"],
            "attrs": {"score": 1, "text": "Still waiting for the replacement part"},
        }
        posted = client.post(
            "/api/v1/events", headers={"X-API-Key": token}, json={"events": [event]}
        )
        assert posted.json()["events_new"] == 1
        _wait(lambda: rt._warmer.rounds >= 2)
        assert ("brief", version + 1, rt.generation) in rt._cache
        warmed = rt._cache[("brief", version + 1, rt.generation)][1]
        page = client.get("/api/v1/brief", headers={"X-API-Key": token}).json()
        assert [c["key"] for c in page["candidates"]] == [c["key"] for c in warmed["candidates"]]
        assert [t["label"] for t in page["customers"]["topics"]] == [
            t["label"] for t in warmed["customers"]["topics"]
        ]


def _wait(ready: object, seconds: float = 300.0) -> None:
    end = time.monotonic() + seconds
    while not ready():  # type: ignore[operator]
        assert time.monotonic() < end, "the warmer did not finish in time"
        time.sleep(0.2)


def test_the_ingest_command_refreshes_behind_it_below_normal_priority(tmp_path: Path) -> None:
    """`cxloop ingest` (a real process) returns and leaves the refresh running in a process
    of its own at `refresh_nice`, whose report lands in HOME/refresh.log."""
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,customer_id,event_type,ts\n"
        "n-1,CU-1,order_placed,2024-03-01T10:00:00Z\n"
        "n-2,CU-1,order_delivered,2024-03-04T10:00:00Z\n"
    )
    home = tmp_path / "store"
    env = os.environ | {"CXLOOP_REFRESH": "on", "CXLOOP_REFRESH_NICE": "7"}
    cmd = [sys.executable, "-m", "cxloop", "ingest", str(events), "--home", str(home)]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    log = home / "refresh.log"
    deadline = time.monotonic() + 240
    while "Log version" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.2)
    assert f"at nice {min(19, os.nice(0) + 7)}" in log.read_text()
