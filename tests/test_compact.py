"""Compacting the event log: the same rows in one segment, automatically or on demand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import cxloop
from cxloop.services.log.ingest import compact
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog
from tests.test_cli import run, run_here


def write_batch(folder: Path, n: int, start: int) -> Path:
    path = folder / f"batch-{start}.jsonl"
    rows = [
        {
            "event_id": f"e{i}",
            "customer_id": f"C{i % 7}",
            "event_type": "contact_inbound",
            "ts": f"2026-11-{i % 28 + 1:02d}T10:00:00Z",
            "channel": "email",
            "ref": f"K{i}",
        }
        for i in range(start, start + n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def content(cx: cxloop.Cxloop) -> pd.DataFrame:
    return cx.events().order_by("event_id").execute()


def test_an_ingest_past_the_limit_compacts_and_loses_nothing(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path / "store", compact_segments="4")
    from cxloop.client import Cxloop
    from cxloop.workspace.workspace import Workspace

    with Cxloop(Workspace(settings)) as cx:
        for k in range(3):
            cx.ingest(write_batch(tmp_path, 10, 10 * k))
        log = EventLog(tmp_path / "store" / "events")
        assert len(log.manifest()["segments"]) == 3
        before = content(cx)
        report = cx.ingest(write_batch(tmp_path, 10, 30))
        manifest = log.manifest()
        assert len(manifest["segments"]) == 1 and manifest["segments"][0]["rows"] == 40
        assert report.log_version == manifest["version"] == 5
        assert len(manifest["retired"]) == 4  # kept for readers of the old manifest
        after = content(cx)
        assert len(after) == 40
        same = after[after.event_id.isin(before.event_id)].reset_index(drop=True)
        pd.testing.assert_frame_equal(same, before)  # every column, lineage included
        again = cx.ingest(write_batch(tmp_path, 10, 0), force=True)  # idempotent still
        assert (again.events_new, again.events_duplicate) == (0, 10)
        assert len(cx.timeline("C3")) == sum(1 for i in range(40) if i % 7 == 3)


def test_compact_on_demand_from_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "store"
    with cxloop.open(home) as cx:
        for k in range(3):
            cx.ingest(write_batch(tmp_path, 5, 5 * k))
        ledger_before = cx.build_ledger().promises
        result = compact(cx.workspace)
        assert (result["segments_before"], result["segments_after"], result["rows"]) == (3, 1, 15)
        assert cx.build_ledger().promises == ledger_before
    out = json.loads(run(home, "compact", "--format", "json").stdout)
    assert out["segments_before"] == out["segments_after"] == 1
    assert "1 segment(s) -> 1" in run_here(home, "compact").stdout


def _mixed_batch(folder: Path, name: str, ids: range) -> Path:
    """Events of three types, written in time order (types and customers interleaved)."""
    types = ("order_placed", "contact_inbound", "invoice_issued")
    rows = [
        {
            "event_id": f"{name}{i}",
            "customer_id": f"C{(i * 5) % 11}",
            "event_type": types[i % 3],
            "ts": f"2026-10-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z",
            "ref": f"O{i}",
        }
        for i in ids
    ]
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _segment_rows(log: EventLog) -> list[list[tuple[str, str, str, str]]]:
    import pyarrow.parquet as pq

    out = []
    for path in log.segment_paths():
        t = pq.read_table(path, columns=["event_type", "customer_id", "ts", "event_id"])
        out.append(list(zip(*(t.column(i).to_pylist() for i in range(4)), strict=True)))
    return out


def test_segments_are_sorted_by_type_then_customer_and_time(tmp_path: Path) -> None:
    """Appended and compacted segments are in SEGMENT_ORDER (event type, customer, time,
    id), so a query for one event type can skip the row groups of the others."""
    with cxloop.open(tmp_path / "store") as cx:
        cx.ingest(_mixed_batch(tmp_path, "a", range(0, 60)))
        cx.ingest(_mixed_batch(tmp_path, "b", range(60, 90)))
        log = EventLog(tmp_path / "store" / "events")
        segments = _segment_rows(log)
        assert [len(s) for s in segments] == [60, 30]
        for rows in segments:
            assert rows == sorted(rows)
            assert rows[0][0] != rows[-1][0]  # several types: sorting them was not a no-op
        compact(cx.workspace)
        (merged,) = _segment_rows(log)
        assert merged == sorted(r for s in segments for r in s)
