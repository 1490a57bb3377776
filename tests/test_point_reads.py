"""Point reads (one customer's timeline and promises) from the embedded store's
customer-sorted copies: the same answers as the Ibis scan and as the raw Parquet files
read with pandas, and copies that follow every rewrite of the segments."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

from cxloop.api.deps import rows
from cxloop.services.log.corrections import Operator, forget
from cxloop.services.log.ingest import compact, ingest_path
from cxloop.services.log.point_reads import index_store
from cxloop.services.log.timeline import customer_timeline, timeline_expr
from cxloop.services.log.timeline_rows import small_timeline_page, timeline_page
from cxloop.services.promises import ledger as ledger_service
from cxloop.store import pointindex
from cxloop.workspace.workspace import Workspace
from tests.conftest import demo_copy


def _segments(home: Path) -> list[Path]:
    log = home / "events"
    manifest = json.loads((log / "manifest.json").read_text())
    return [log / s["file"] for s in manifest["segments"]]


def _raw_log(home: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in _segments(home)], ignore_index=True)


def _sample(log: pd.DataFrame, n: int) -> list[str]:
    ids = sorted(log.customer_id.unique())
    return random.Random(7).sample(ids, n)


def test_point_reads_equal_the_scan_and_the_raw_files(demo_store: Path) -> None:
    log = _raw_log(demo_store)
    ws = Workspace.open(demo_store)
    try:
        assert pointindex.info(_segments(demo_store))["indexed"] == len(_segments(demo_store))
        for c in [*_sample(log, 25), "nobody-at-all"]:
            fast = customer_timeline(ws, c)
            pd.testing.assert_frame_equal(fast, timeline_expr(ws.events(), c).execute())
            want = log[log.customer_id == c].sort_values(["ts", "event_id"])
            assert list(fast.event_id) == list(want.event_id)
            assert rows(fast) == rows(timeline_expr(ws.events(), c).execute())
            mine = ledger_service.customer_promises(ws, c)
            scan = ledger_service.promises_expr(ws, customer_id=c).execute()
            pd.testing.assert_frame_equal(mine, scan)
            assert rows(mine) == rows(scan)
            # the server's read on its event loop: the same page, or None beyond its groups
            page = timeline_page(ws, c, 20, 1)
            assert small_timeline_page(ws, c, 20, 1, 4) == page
            assert small_timeline_page(ws, c, 20, 1, 0) == (None if page[1] else page)
    finally:
        ws.close()


def _copied_customers(home: Path) -> set[str]:
    found: set[str] = set()
    for folder in (home / "events" / "bycustomer", home / "ledger" / "bycustomer"):
        for copy in folder.glob("*.parquet"):
            found |= set(pd.read_parquet(copy, columns=["customer_id"]).customer_id)
    return found


def test_copies_follow_ingest_compaction_and_forget(demo_store: Path, tmp_path: Path) -> None:
    home = demo_copy(demo_store, tmp_path)
    extra = tmp_path / "late.csv"
    extra.write_text(
        "event_id,customer_id,event_type,ts,department,channel\n"
        "late-1,CU-LATE,contact_inbound,2024-01-02T10:00:00,support,email\n"
        "late-2,CU-LATE,contact_inbound,2024-01-03T10:00:00,support,chat\n"
    )
    ws = Workspace.open(home)
    try:
        report = ingest_path(ws, extra, "generic")
        assert report.events_new == 2
        assert pointindex.info(_segments(home))["indexed"] == 2
        assert list(customer_timeline(ws, "CU-LATE").event_id) == ["late-1", "late-2"]
        # a copy gone (a store of an earlier version): that segment is scanned instead
        assert small_timeline_page(ws, "CU-LATE", None, 0, 4) is not None
        assert small_timeline_page(ws, "CU-LATE", None, 0, 0) is None  # over its groups
        pointindex.copy_path(_segments(home)[1]).unlink()
        assert list(customer_timeline(ws, "CU-LATE").event_id) == ["late-1", "late-2"]
        assert small_timeline_page(ws, "CU-LATE", None, 0, 4) is None  # the thread scans
        compact(ws)  # one segment, and its copy; the old copies are gone
        copies = sorted(p.name for p in (home / "events" / "bycustomer").iterdir())
        assert copies == [p.name for p in _segments(home)]
        assert list(customer_timeline(ws, "CU-LATE").event_id) == ["late-1", "late-2"]
        victim = "CU-000042"
        before = len(customer_timeline(ws, victim))
        assert before > 0 and victim in _copied_customers(home)
        forget(ws, victim, Operator("test"))
        assert customer_timeline(ws, victim).empty
        assert victim not in _copied_customers(home)  # erased from the copies too
        again = ingest_path(ws, extra.rename(tmp_path / "late2.csv"), "generic", force=True)
        assert again.events_new == 0
        assert index_store(ws) == {"segments": 0, "ledger": 0}  # nothing left to copy
    finally:
        ws.close()


def test_a_copy_is_fetched_ahead_on_a_thread_that_always_ends() -> None:
    """write_copy fetches DuckDB's batches one thread ahead of the Parquet writer (as the
    PostgreSQL append encodes its batches): the order is kept, an error of the fetch
    reaches the writer, and a writer that stops early (its disk full) leaves no thread."""
    import threading

    import pytest

    from cxloop.store.ahead import ahead

    assert list(ahead(iter(range(1000)))) == list(range(1000))
    assert list(ahead(iter([]))) == []

    def failing() -> object:
        yield 1
        raise OSError("the sort's spill file vanished")

    got = []
    with pytest.raises(OSError, match="spill file vanished"):
        for item in ahead(failing()):
            got.append(item)
    assert got == [1]

    endless = iter(range(10**9))
    fetched = ahead(endless, depth=2, name="cxloop-copy-fetch")
    assert [next(fetched) for _ in range(5)] == [0, 1, 2, 3, 4]
    fetched.close()  # the writer gave up
    assert not [t for t in threading.enumerate() if t.name == "cxloop-copy-fetch"]
    assert next(endless) < 5 + 2 + 2  # the thread stopped fetching a few items ahead
