"""Ingest streams: a CSV is parsed and checked as DuckDB reads it, under the memory setting.

One CSV of about 42 MB (150 k rows) is loaded with ``ingest_memory`` at 640 MB (the
reader's 128 MiB buffers need about that) and one thread; the segment's row groups are
sized from the setting. The expected results come from the file itself, read with
pandas and the ``csv`` module: rows, events, the segment's order, and the row numbers of
bad rows placed late in the file. That memory does not grow with the input is measured
by bench/ingest_scale.py at 1 M, 10 M and 30 M events (docs/benchmarks.md).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import cxloop

ROWS = 150_000
HEADER = ["event_id", "customer_id", "event_type", "ts", "department", "channel", "ref"]
HEADER += ["amount", "due_at", "attrs"]
TYPES = ["order_placed", "order_shipped", "contact_inbound", "survey_response"]
# data rows (1 = the first after the header) that are bad, each its own way
RAGGED, BAD_TS, CONFLICT, DUPLICATE, BAD_TYPE = 120_001, 149_990, 140_000, 145_000, 99_999


def _row(i: int) -> list[str]:
    note = f"order {i} of customer {i % 4999}; " + "x" * 150
    attrs = json.dumps({"note": note, "items": i % 7})
    ts = f"2026-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
    amount = f"{i % 500}.5" if i % 3 == 0 else ""
    etype = TYPES[i % len(TYPES)]
    return [f"e{i}", f"c{i % 4999}", etype, ts, "", "web", f"O-{i}", amount, "", attrs]


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("streaming") / "events.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(1, ROWS + 1):
            row = _row(i)
            if i == RAGGED:
                row = [*row, "an extra field"]
            elif i == BAD_TS:
                row[3] = "2026-13-45 25:61"
            elif i == CONFLICT:
                row = _row(5)
                row[6] = "O-changed"  # event e5 again, with other content
            elif i == DUPLICATE:
                row = _row(7)  # event e7 again, the same
            elif i == BAD_TYPE:
                row[2] = "order_teleported"
            out.writerow(row)
    return path


@pytest.fixture(scope="module")
def loaded(
    big_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[cxloop.Cxloop, cxloop.IngestReport]:
    home = tmp_path_factory.mktemp("streaming-store")
    cx = cxloop.open(home, ingest_memory="640MB", ingest_threads=1)
    report = cx.ingest(big_csv)
    yield cx, report
    cx.close()


def test_a_file_loads_under_a_small_memory_setting(
    big_csv: Path, loaded: tuple[cxloop.Cxloop, cxloop.IngestReport]
) -> None:
    cx, report = loaded
    assert big_csv.stat().st_size > 40_000_000
    expected = pd.read_csv(big_csv, dtype=str, keep_default_na=False, on_bad_lines="skip")
    assert len(expected) == ROWS - 1  # pandas skips the ragged row too
    bad = {BAD_TS, CONFLICT, DUPLICATE, BAD_TYPE}
    assert report.rows_read == ROWS
    assert report.events_new == ROWS - 1 - len(bad)
    assert report.events_duplicate == 1
    events = cx.events().execute()
    assert len(events) == ROWS - 1 - len(bad)
    good = expected[~expected.event_id.isin({f"e{i}" for i in bad})].drop_duplicates("event_id")
    assert set(events.event_id) == set(good.event_id)
    by_id = events.set_index("event_id")
    assert by_id.loc["e5", "ref"] == "O-5"  # the first copy wins; the changed one is held
    attrs = by_id.loc["e149999", "attrs"]
    attrs = json.loads(attrs) if isinstance(attrs, str) else attrs
    assert attrs == json.loads(good.set_index("event_id").loc["e149999", "attrs"])


def test_bad_rows_late_in_the_file_name_their_true_row(
    big_csv: Path, loaded: tuple[cxloop.Cxloop, cxloop.IngestReport]
) -> None:
    _, report = loaded
    got = {(p.row, p.field) for p in report.problems}
    assert got == {
        (BAD_TYPE, "event_type"),
        (RAGGED, "(row)"),
        (CONFLICT, "event_id"),
        (BAD_TS, "ts"),
    }
    by_row = {p.row: p for p in report.problems}
    reason = by_row[CONFLICT].reason
    assert "e5" in reason and "more than once in this file" in reason
    assert json.loads(by_row[BAD_TS].record or "{}")["event_id"] == f"e{BAD_TS}"
    assert json.loads(by_row[BAD_TYPE].record or "{}")["event_type"] == "order_teleported"
    # the row numbers of the events themselves: from the file, counted independently
    with big_csv.open(newline="") as fh:
        rows = {r[0]: n for n, r in enumerate(csv.reader(fh)) if n and len(r) == len(HEADER)}
    assert rows["e149999"] == 149_999 and rows[f"e{RAGGED + 1}"] == RAGGED + 1


def test_rows_keep_their_positions_and_the_segment_its_order(
    loaded: tuple[cxloop.Cxloop, cxloop.IngestReport],
) -> None:
    cx, _ = loaded
    events = cx.events().execute()
    numbered = events.set_index("event_id").source_row
    # e{i} was written on data row i (but the rows replaced above)
    sample = [f"e{i}" for i in (1, 2, 99_998, 120_000, RAGGED + 1, 149_989, ROWS)]
    assert [int(numbered[e]) for e in sample] == [int(e[1:]) for e in sample]
    [segment] = cx.workspace.log.segment_paths()
    order = pq.read_table(segment, columns=["event_type", "customer_id", "ts", "event_id"])
    frame = order.to_pandas()
    assert frame.equals(
        frame.sort_values(["event_type", "customer_id", "ts", "event_id"]).reset_index(drop=True)
    )


def test_a_second_load_finds_every_row_a_duplicate(
    big_csv: Path, loaded: tuple[cxloop.Cxloop, cxloop.IngestReport]
) -> None:
    cx, first = loaded
    again = cx.ingest(big_csv, force=True)
    assert (again.events_new, again.events_duplicate) == (0, first.events_new + 1)
    assert {(p.row, p.field) for p in again.problems} == {(p.row, p.field) for p in first.problems}
