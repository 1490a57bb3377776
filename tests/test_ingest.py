"""Ingest through the generic mapping: formats, idempotency, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cxloop
from cxloop.errors import InputError, MappingError

HEADER = "event_id,customer_id,event_type,ts,department,channel,ref,amount,due_at,attrs\n"
GOOD = [
    "e1,c1,order_placed,2026-03-01T10:00:00Z,,web,O-1,120.5,2026-03-05T23:59:59Z,"
    '"{""ship_by"": ""2026-03-02T12:00:00""}"',
    "e2,c1,order_shipped,2026-03-02T09:00:00Z,,carrier,O-1,,,",
    "e3,c1,order_delivered,2026-03-04T15:00:00+02:00,,carrier,O-1,,,",
    "e4,c2,contact_inbound,2026-03-03T08:00:00Z,,email,C-9,,,"
    '"{""text"": ""Where is my parcel?"",\n""lang"": ""en""}"',
]
BAD = [
    "e5,,order_placed,2026-03-01T10:00:00Z,,web,O-2,10,,",
    "e6,c3,order_teleported,2026-03-01T10:00:00Z,,web,O-3,10,,",
    "e7,c3,order_placed,31/02/2026,,web,O-4,10,,",
    "e8,c3,order_placed,2026-03-01T10:00:00Z,,web,O-5,ten,,",
    'e9,c3,order_placed,2026-03-01T10:00:00Z,,web,O-6,10,,"[1,2]"',
]


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def test_good_rows_load_and_bad_rows_are_quarantined(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "events.csv", GOOD + BAD)
    report = cx.ingest(f)
    assert (report.rows_read, report.events_new, report.rows_quarantined) == (9, 4, 5)
    q = cx.quarantine()
    got = {(row, field) for row, field in zip(q["row"], q["field"], strict=True)}
    assert got == {(5, "customer_id"), (6, "event_type"), (7, "ts"), (8, "amount"), (9, "attrs")}
    assert set(q["file"]) == {str(f.resolve())}
    reasons = dict(zip(q["field"], q["reason"], strict=True))
    assert "unknown event type order_teleported" in reasons["event_type"]
    assert "unparsable date 31/02/2026" in reasons["ts"]
    assert reasons["customer_id"] == "is empty (required)"
    # the raw record is kept, so nothing is lost
    assert q.loc[q.field == "amount", "record"].iloc[0]["amount"] == "ten"


def test_reloading_is_a_no_op(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "events.csv", GOOD + BAD)
    cx.ingest(f)
    again = cx.ingest(f)
    assert (again.events_new, again.events_duplicate) == (0, 4)
    assert cx.events().count().execute() == 4
    assert len(cx.quarantine()) == 5
    assert len(cx.quarantine(all_loads=True)) == 5


def test_times_are_utc_and_department_defaults(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    cx.ingest(write_csv(tmp_path / "events.csv", GOOD))
    tl = cx.timeline("c1")
    assert list(tl.event_type) == ["order_placed", "order_shipped", "order_delivered"]
    assert list(tl.department) == ["sales", "fulfillment", "logistics"]
    assert str(tl.ts.iloc[2]) == "2026-03-04 13:00:00"  # +02:00 converted to UTC


def test_changed_content_under_the_same_id_is_a_conflict(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    cx.ingest(write_csv(tmp_path / "a.csv", GOOD[:1]))
    changed = GOOD[0].replace("120.5", "99.0")
    report = cx.ingest(write_csv(tmp_path / "b.csv", [changed]))
    assert report.events_new == 0
    [problem] = report.problems
    assert (problem.row, problem.field) == (1, "event_id")
    assert "already in the log with different content" in problem.reason


TWO_EVENTS = """[input]
delimiter = ";"
[[events]]
event_id = "t:{id}"
customer_id = "{cust}"
event_type = "order_placed"
ts = { column = "when", format = "%d/%m/%Y %H:%M" }
amount = { column = "amt", decimal = "," }
[[events]]
when = { column = "deliv", present = true }
event_id = "t:{id}:d"
customer_id = "{cust}"
event_type = "order_delivered"
ts = { column = "deliv", format = "%d/%m/%Y %H:%M" }
"""


def test_a_changed_value_of_a_row_making_two_events_is_a_conflict(
    cx: cxloop.Cxloop, tmp_path: Path
) -> None:
    """One row, two events (placed, delivered): a corrected amount is refused by name, the
    row's unchanged event is a duplicate, and the counts are per event."""
    toml = tmp_path / "two.toml"
    toml.write_text(TWO_EVENTS)
    rows = ["id;cust;when;amt;deliv", "A1;c1;01/01/2025 10:00;12,50;05/01/2025 10:00"]
    rows += ["A2;c2;02/01/2025 10:00;7,00;"]
    f = tmp_path / "orders.csv"
    f.write_text("\n".join(rows) + "\n")
    first = cx.ingest(f, mapping=toml)
    assert (first.events_new, first.events_duplicate, first.rows_quarantined) == (3, 0, 0)
    f.write_text(f.read_text().replace("12,50", "99,50"))
    again = cx.ingest(f, mapping=toml)
    assert (again.events_new, again.events_duplicate, again.rows_quarantined) == (0, 2, 1)
    [problem] = again.problems
    assert (Path(problem.file).name, problem.row, problem.field) == ("orders.csv", 1, "event_id")
    assert problem.reason.startswith(
        "event_id t:A1 is already in the log with different content: amount (loaded by ingest"
    )
    assert cx.events().count().execute() == 3
    assert list(cx.timeline("c1").amount.dropna()) == [12.5]  # not silently replaced
    # the quarantine keeps the refused event as mapped: the corrected value is there to see
    record = json.loads(problem.record or "{}")
    assert (record["event_id"], record["amount"], record["customer_id"]) == ("t:A1", 99.5, "c1")
    assert record["ts"].endswith("Z")
    kept = cx.quarantine()
    kept = kept[kept.reason.str.startswith("event_id t:A1")]
    assert [r["amount"] for r in kept.record] == [99.5]  # parsed from the stored JSON
    # the same id twice in one file: the later copy is named with the first copy's row
    rows.append("A1;c1;01/01/2025 10:00;13,00;05/01/2025 10:00")
    f.write_text("\n".join(rows) + "\n")
    with cxloop.open(tmp_path / "fresh") as other:
        report = other.ingest(f, mapping=toml)
    assert (report.events_new, report.events_duplicate, report.rows_quarantined) == (3, 1, 1)
    [problem] = report.problems
    assert (problem.row, problem.value) == (3, "t:A1")
    assert json.loads(problem.record or "{}")["amount"] == 13.0
    assert problem.reason == (
        "event_id t:A1 appears more than once in this file with different content: amount "
        "(first at row 1)"
    )


def test_jsonl_and_parquet_and_extra_columns(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    jl = tmp_path / "support.jsonl"
    jl.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "customer_id": "c1",
                        "event_type": "contact_inbound",
                        "ts": "2026-03-03T08:00:00Z",
                        "channel": "chat",
                        "ref": "C-1",
                        "attrs": {"topic": "late"},
                        "agent": "ann",
                    }
                ),
                "{not json",
                json.dumps(
                    {
                        "customer_id": "c1",
                        "event_type": "reply_sent",
                        "ts": "2026-03-03T08:20:00Z",
                        "ref": "C-1",
                    }
                ),
            ]
        )
        + "\n"
    )
    report = cx.ingest(jl)
    assert (report.events_new, report.rows_quarantined) == (2, 1)
    assert report.problems[0].row == 2 and report.problems[0].field == "(line)"
    pq.write_table(
        pa.table(
            {
                "customer_id": ["c9"],
                "event_type": ["review"],
                "ts": ["2026-03-09T10:00:00"],
                "score": ["2"],
            }
        ),
        tmp_path / "voice.parquet",
    )
    assert cx.ingest(tmp_path / "voice.parquet").events_new == 1
    events = cx.events().execute().set_index("event_type")
    assert json.loads(events.loc["contact_inbound", "attrs"]) == {"topic": "late", "agent": "ann"}
    assert json.loads(events.loc["review", "attrs"]) == {"score": "2"}
    assert events.loc["review", "event_id"].startswith("g-")  # derived, stable id
    assert cx.ingest(tmp_path / "voice.parquet").events_new == 0


def test_malformed_csv_lines_are_quarantined_with_their_row(
    cx: cxloop.Cxloop, tmp_path: Path
) -> None:
    lines = [GOOD[3], "e10,c5,order_placed,2026-03-01T10:00:00Z,,web,O-9,1,,,EXTRA", GOOD[1]]
    report = cx.ingest(write_csv(tmp_path / "x.csv", lines))
    assert report.events_new == 2
    [problem] = report.problems
    assert problem.row == 2
    assert "too many columns" in problem.reason
    rows = cx.events().execute().sort_values("source_row")
    assert list(rows.source_row) == [1, 3]  # the quoted two-line field counts as one row


def test_file_level_errors(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        cx.ingest(tmp_path / "missing.csv")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match=r"unknown file format '\.txt'"):
        cx.ingest(tmp_path / "x.txt")
    (tmp_path / "cols.csv").write_text("customer,type\nc1,order_placed\n")
    with pytest.raises(MappingError, match=r"missing column.*customer_id, event_type, ts"):
        cx.ingest(tmp_path / "cols.csv")
    with pytest.raises(InputError, match="unknown source mapping 'sap'"):
        cx.ingest(tmp_path / "cols.csv", source="sap")


def test_a_failed_run_is_recorded_as_failed(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    (tmp_path / "cols.csv").write_text("customer,type\nc1,order_placed\n")
    with pytest.raises(MappingError):
        cx.ingest(tmp_path / "cols.csv")
    [run] = cx.workspace.state.runs()
    assert run["status"] == "failed" and run["events_new"] == 0
    assert cx.events().count().execute() == 0


def test_repeats_within_one_file(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    changed = GOOD[1].replace("carrier", "van", 1)
    report = cx.ingest(write_csv(tmp_path / "x.csv", [GOOD[1], GOOD[1], changed, GOOD[2]]))
    assert (report.events_new, report.events_duplicate) == (2, 1)
    [problem] = report.problems
    assert (problem.row, problem.field) == (3, "event_id")
    assert problem.reason == (
        "event_id e2 appears more than once in this file with different content: channel "
        "(first at row 1)"
    )
    kept = cx.events().execute().set_index("event_id")
    assert kept.loc["e2", "channel"] == "carrier"  # the first copy wins


def test_rows_after_several_malformed_lines_keep_their_numbers(
    cx: cxloop.Cxloop, tmp_path: Path
) -> None:
    bad = "x,c9,order_placed,2026-03-01T10:00:00Z,,web,O-9,1,,,EXTRA"
    good = [f"g{i},c1,order_shipped,2026-03-0{i}T09:00:00Z,,carrier,O-1,,," for i in (1, 2, 3)]
    lines = [good[0], bad, bad.replace("x,", "y,"), good[1], bad.replace("x,", "z,"), good[2]]
    report = cx.ingest(write_csv(tmp_path / "x.csv", lines))
    assert report.events_new == 3 and report.rows_read == 6
    assert sorted(p.row for p in report.problems) == [2, 3, 5]
    rows = cx.events().execute().sort_values("source_row")
    assert list(rows.source_row) == [1, 4, 6]
    assert list(rows.event_id) == ["g1", "g2", "g3"]


def test_an_unterminated_quote_quarantines_its_row_and_the_rest_is_read(
    cx: cxloop.Cxloop, tmp_path: Path
) -> None:
    # DuckDB reads everything after an unclosed quote as one value: the rows after it
    # were lost without a word; also a second one, and a legitimately quoted comma later
    good = [f"g{i},c{i},order_shipped,2026-03-01T09:00:00Z,,carrier,O-{i},,," for i in range(9)]
    bad = 'b{0},c9,order_placed,2026-03-01T10:00:00Z,,web,"O-{0},1,,'
    quoted = 'q1,c1,order_shipped,2026-03-02T09:00:00Z,,"web, mobile",O-1,,,'
    lines = [*good[:3], bad.format(1), *good[3:6], quoted, bad.format(2), *good[6:]]
    f = write_csv(tmp_path / "x.csv", lines)
    report = cx.ingest(f)
    assert report.rows_read == len(lines) == 12
    assert [(p.row, p.field) for p in report.problems] == [(4, "ref"), (9, "ref")]
    assert "unterminated quote" in report.problems[0].reason
    assert json.loads(report.problems[0].record or "{}") == {"line": bad.format(1)}
    rows = cx.events().execute().sort_values("source_row")
    assert list(rows.source_row) == [1, 2, 3, 5, 6, 7, 8, 10, 11, 12]
    assert list(rows.event_id) == [*(f"g{i}" for i in range(6)), "q1", "g6", "g7", "g8"]
    assert rows.set_index("event_id").loc["q1", "channel"] == "web, mobile"
    (tmp_path / "h.csv").write_text('customer_id,"event_type,ts\nc1,order_placed,2026-03-01\n')
    with pytest.raises(InputError, match=r"h\.csv: a quote in the header never closes"):
        cx.ingest(tmp_path / "h.csv")  # read as a header swallowing every row: 0 rows, no word


def test_an_empty_file_is_named(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        cx.ingest(tmp_path / "empty.csv")


def test_unchanged_files_are_not_read_again(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "events.csv", GOOD + BAD)
    first = cx.ingest(f)
    again = cx.ingest(f)
    assert again.unchanged and not first.unchanged
    assert (again.rows_read, again.events_new, again.events_duplicate) == (9, 0, 4)
    assert again.rows_quarantined == 5
    assert sorted((p.row, p.field) for p in again.problems) == sorted(
        (p.row, p.field) for p in first.problems
    )
    forced = cx.ingest(f, force=True)
    assert not forced.unchanged
    assert (forced.events_new, forced.events_duplicate, forced.rows_quarantined) == (0, 4, 5)
    statuses = [r["status"] for r in cx.workspace.state.runs()]
    assert statuses == ["done", "unchanged", "done"]
    # one changed byte: read again
    write_csv(f, [*GOOD, GOOD[0].replace("e1,", "e11,")])
    changed = cx.ingest(f)
    assert not changed.unchanged and changed.events_new == 1


def test_a_cut_off_json_line_says_its_string_never_closes(tmp_path: Path) -> None:
    """A JSON Lines export cut in the middle of a string: the reason says what is wrong
    (Python's own message reads "Invalid control character at" before our "at column")."""
    import duckdb

    from cxloop.ingest.readers import read_file

    f = tmp_path / "messages.jsonl"
    good = '{"customer_id": "c1", "event_type": "contact_inbound", "ts": "2026-01-01T00:00:00Z"}'
    f.write_text(good + '\n{"customer_id": "c2", "text": "never clo\n{"a": "b\n')
    con = duckdb.connect()
    try:
        raw = read_file(con, f)
    finally:
        con.close()
    reasons = {p.row: p.reason for p in raw.problems}
    assert reasons[2] == (
        "invalid JSON: a string is still open when the line ends (its closing quote is "
        "missing) at column 41"
    )
    assert reasons[3].startswith("invalid JSON: a string is still open")
    assert all(" at at " not in r for r in reasons.values())
