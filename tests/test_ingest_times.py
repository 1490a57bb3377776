"""The ingest's time parse (``staging.ts``) takes a shortcut for times ending in ``Z``:
it must give exactly what the cast through TIMESTAMPTZ gives (the rule of docs/events.md,
"Times"), for every spelling, parsable or not."""

from __future__ import annotations

import itertools
from datetime import datetime

import duckdb

from cxloop.ingest.staging import ts

DATES = ["2026-05-24", "2026-5-4", "26-05-24", "2026/05/24", "2026-02-30", "infinity", "epoch"]
TIMES = ["", "T18:00:25", " 18:00:25", "T18:00", "T18", "T18:00:25.5", "T18:00:25.1234567"]
TIMES += ["T24:00:00", "T18:00:60", "t18:00:25"]
OFFSETS = ["", "+05:30", "-08", "+0530", "-14:00", "+99:99", " UTC", "+00", "America/New_York"]
ENDINGS = ["Z", "z", " Z", "ZZ", ""]


def test_times_ending_in_z_parse_as_through_timestamptz() -> None:
    values = [d + t + o + e for d, t, o, e in itertools.product(DATES, TIMES, OFFSETS, ENDINGS)] + [
        "",
        "   ",
        "Z",
        " 2026-05-24T18:00:25Z ",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
    ]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE v (raw VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[v] for v in values])
    rows = con.execute(
        f"SELECT raw, {ts('raw')}, try_cast(nullif(trim(raw), '') AS TIMESTAMPTZ)::TIMESTAMP FROM v"
    ).fetchall()
    assert len(rows) == len(values)
    differ = [(raw, fast, slow) for raw, fast, slow in rows if fast != slow]
    assert differ == []
    parsed = {raw: fast for raw, fast, _ in rows}
    # an independent check of a few: Python's own reading of the same instants
    assert parsed["2026-05-24T18:00:25Z"] == datetime(2026, 5, 24, 18, 0, 25)
    assert parsed["2026-05-24T18:00:25+05:30"] == datetime(2026, 5, 24, 12, 30, 25)
    assert parsed["2026-05-24T18:00:25.5Z"] == datetime(2026, 5, 24, 18, 0, 25, 500000)
    assert parsed["2026-05-24T18:00:25-08"] == datetime(2026, 5, 25, 2, 0, 25)
    assert parsed["2026-02-30T18:00:25Z"] is None
