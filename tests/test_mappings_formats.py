"""Mapping files: spreadsheet serial dates, plausible epoch times, thousands separators and
the warning for a date format whose day and month look swapped.

Each test writes a small export and checks what loads against a computation of its own
(plain Python datetime / float), and what is quarantined against the file's rows.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cxloop
from tests.test_cli import run_here
from tests.test_mappings import mapping, stage

EXCEL = """
[[events]]
event_id = "r:{id}"
customer_id = "{cust}"
event_type = "refund_requested"
ts = { column = "at", format = "excel", zone = "America/Sao_Paulo" }
due_at = { column = "due", format = "excel", end_of_day = true }
[events.attrs]
opened = { column = "opened", format = "excel", not_before = "1900-01-01" }
"""


def excel_utc(serial: float, zone: str | None = None) -> datetime:
    """Days since 1899-12-30 (wall-clock time in ``zone``), to the second, in UTC."""
    naive = datetime(1899, 12, 30) + timedelta(seconds=round(serial * 86400))
    if zone is None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


def test_excel_serial_days_load_in_their_zone_and_implausible_ones_are_quarantined(
    tmp_path: Path,
) -> None:
    f = tmp_path / "refunds.csv"
    rows = [
        ("1", "43137.42183", "43140", "61"),  # 2018-02-06 10:07:26 in Sao Paulo; 1900-03-01
        ("2", "45474.5", "45480.25", "36526.75"),  # 2024-07-02 12:00 (no summer time there)
        ("3", "1700000000", "", ""),  # seconds since 1970: no serial day number
        ("4", "25000", "", ""),  # 1968-06-11: before not_before (1990-01-01)
        ("5", "12.5.2024", "", ""),  # not a number
        ("6", "45474.5", "", "60"),  # 60: the 29 February 1900 that never was
    ]
    f.write_text(
        "id,cust,at,due,opened\n" + "".join(f"{i},c{i},{a},{d},{o}\n" for i, a, d, o in rows)
    )
    loaded, problems, read = stage(mapping(tmp_path, EXCEL), f)
    assert read == 6
    by_id = {r["event_id"]: r for r in loaded}
    assert set(by_id) == {"r:1", "r:2"}
    for i, at, due, opened in rows[:2]:
        r = by_id[f"r:{i}"]
        assert r["ts"] == excel_utc(float(at), "America/Sao_Paulo")
        end = excel_utc(float(due)).replace(hour=23, minute=59, second=59)
        assert r["due_at"] == end
        assert r["attrs"]["opened"] == excel_utc(float(opened)).isoformat()
    assert str(by_id["r:1"]["ts"]) == "2018-02-06 12:07:26"  # 10:07:26 -02:00 (summer)
    assert by_id["r:1"]["attrs"]["opened"] == "1900-03-01T00:00:00"
    found = {(p.row, p.field): p.reason for p in problems}
    assert set(found) == {(3, "at"), (4, "at"), (5, "at"), (6, "opened")}
    assert "is out of range as a spreadsheet serial day number" in found[(3, "at")]
    assert 'with format = "epoch" it reads 2023-11-14 22:13:20' in found[(3, "at")]
    assert "lands on 1968-06-11 03:00:00, before 1990-01-01 (not_before)" in found[(4, "at")]
    assert found[(5, "at")].startswith("unparsable time 12.5.2024 (expected a spreadsheet")
    assert "attrs.opened: time 60 is out of range" in found[(6, "opened")]


EPOCH = """
[[events]]
event_id = "e:{id}"
customer_id = "{cust}"
event_type = "refund_requested"
ts = { column = "at", format = "epoch" }
[events.attrs]
ms = { column = "ms", format = "epoch_ms" }
born = { column = "born", format = "epoch", not_before = 1950-01-01 }
"""


def test_epoch_values_must_be_plausible_seconds(tmp_path: Path) -> None:
    f = tmp_path / "refunds.csv"
    f.write_text(
        "id,cust,at,ms,born\n"
        "1,c1,1700000000.5,1700000000123,-315619200\n"  # born 1960-01-01
        "2,c2,43137.42183,,\n"  # a serial day number: 1970-01-01 11:58:57 as seconds
        "3,c3,1700000000000,,\n"  # milliseconds read as seconds: the year 55,841
        "4,c4,1700000000,1700000000,\n"  # seconds read as milliseconds: 1970-01-20
        "5,c5,631152000,,\n"  # 1990-01-01 00:00 loads
        "6,c6,631152000,,-946771200\n"  # born 1940 does not
    )
    loaded, problems, _ = stage(mapping(tmp_path, EPOCH), f)
    by_id = {r["event_id"]: r for r in loaded}
    assert set(by_id) == {"e:1", "e:5"}
    epoch = datetime(1970, 1, 1)
    assert by_id["e:1"]["ts"] == epoch + timedelta(seconds=1700000000.5)
    assert by_id["e:1"]["attrs"]["ms"] == "2023-11-14T22:13:20"
    assert by_id["e:1"]["attrs"]["born"] == "1960-01-01T00:00:00"
    assert by_id["e:5"]["ts"] == datetime(1990, 1, 1)
    found = {(p.row, p.field): p.reason for p in problems}
    assert set(found) == {(2, "at"), (3, "at"), (4, "ms"), (6, "born")}
    serial = found[(2, "at")]
    assert serial.startswith("time 43137.42183 lands on 1970-01-01 11:58:57, before 1990-01-01")
    assert 'spreadsheet serial day number: with format = "excel" it reads 2018-02-06 10:07:26' in (
        serial
    )
    assert "is out of range as seconds since 1970-01-01 UTC" in found[(3, "at")]
    assert 'with format = "epoch_ms" it reads 2023-11-14 22:13:20' in found[(3, "at")]
    assert 'with format = "epoch" it reads 2023-11-14 22:13:20' in found[(4, "ms")]
    assert "before 1950-01-01 (not_before)" in found[(6, "born")]


AMOUNTS = """
[[events]]
event_id = "a:{id}"
customer_id = "c"
event_type = "order_placed"
ts = "2024-01-01"
amount = { column = "amt", decimal = "DEC" }
"""


def amounts(
    tmp_path: Path, values: list[str], options: str
) -> tuple[dict[str, object], dict[str, str]]:
    """{value: amount loaded} and {value: reason quarantined} for ``values``."""
    f = tmp_path / "amounts.csv"
    f.write_text("id,amt\n" + "".join(f'{i},"{v}"\n' for i, v in enumerate(values, 1)))
    text = AMOUNTS.replace('decimal = "DEC"', options)
    loaded, problems, _ = stage(mapping(tmp_path, text), f)
    ok = {values[int(str(r["event_id"])[2:]) - 1]: r["amount"] for r in loaded}
    return ok, {values[p.row - 1]: p.reason for p in problems}


def test_thousands_separators_only_in_groups_of_three(tmp_path: Path) -> None:
    us = ["1,044.01", "1,234,567", "99.90", "-2,500.5", "1,04.01", "1.044,01", "12,5", "nan"]
    ok, bad = amounts(tmp_path, us, 'decimal = "."')
    assert ok == {"1,044.01": 1044.01, "1,234,567": 1234567.0, "99.90": 99.9, "-2,500.5": -2500.5}
    assert set(bad) == {"1,04.01", "1.044,01", "12,5", "nan"}
    assert bad["1,04.01"].startswith("not a number: 1,04.01 (decimal mark '.', thousands")
    eu = ["1.044,01", "1.234.567", "1 234,5", "12,5", "1.5", "1.04,01", "1,044.01"]
    ok, bad = amounts(tmp_path, eu, 'decimal = ","')
    assert ok == {"1.044,01": 1044.01, "1.234.567": 1234567.0, "1 234,5": 1234.5, "12,5": 12.5}
    assert set(bad) == {"1.5", "1.04,01", "1,044.01"}  # 1.5 was read as 15 before
    swiss = ["1'044.01", "1’044.01", "1044.01", "1'04.01", "1,044.01"]
    ok, bad = amounts(tmp_path, swiss, 'thousands = "\'"')
    assert ok == {"1'044.01": 1044.01, "1’044.01": 1044.01, "1044.01": 1044.01}
    assert set(bad) == {"1'04.01", "1,044.01"}
    ok, bad = amounts(tmp_path, ["1,044.01", "1044.01"], 'decimal = ".", thousands = "none"')
    assert ok == {"1044.01": 1044.01} and set(bad) == {"1,044.01"}
    # without decimal or thousands: a space groups digits, a comma does not
    ok, bad = amounts(tmp_path, ["1,044.01", "1 044.01"], 'default = "0"')
    assert ok == {"1 044.01": 1044.01} and set(bad) == {"1,044.01"}


def day_first(n: int, seed: int) -> list[str]:
    """``n`` day-first dates with times (dd/mm/YYYY HH:MM), days 1-28."""
    rnd = random.Random(seed)
    return [
        f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/2024 {rnd.randint(0, 23):02d}:15"
        for _ in range(n)
    ]


SWAP = """
[[events]]
event_id = "o:{id}"
customer_id = "{cust}"
event_type = "order_placed"
ts = { column = "when", format = "FMT" }
"""


def test_a_day_first_file_read_month_first_warns(tmp_path: Path, cx: cxloop.Cxloop) -> None:
    dates = day_first(120, 7)
    f = tmp_path / "orders.csv"
    f.write_text("id,cust,when\n" + "".join(f"{i},c{i % 9},{d}\n" for i, d in enumerate(dates)))
    fails = sum(int(d[:2]) > 12 for d in dates)  # a day over 12 is no month
    assert 0 < fails < len(dates)
    own = tmp_path / "m.toml"
    own.write_text(SWAP.replace("FMT", "%m/%d/%Y %H:%M"))
    report = cx.ingest(f, mapping=own)
    assert report.rows_quarantined == fails and report.events_new == len(dates) - fails
    (warning,) = report.warnings
    assert (
        f"events[0].ts (when): {fails:,} of {len(dates):,} values fail %m/%d/%Y %H:%M; "
        "all would parse as %d/%m/%Y %H:%M: is the file day-first?" in warning
    )
    assert report.as_dict()["warnings"] == [warning]
    checked = run_here(tmp_path, "mappings", "check", str(own), "--sample", str(f), "-f", "json")
    assert json.loads(checked.stdout)["warnings"] == [warning]
    shown = run_here(tmp_path / "s", "ingest", str(f), "--mapping", str(own)).stdout
    assert "Warning: " in shown and "is the file day-first?" in " ".join(shown.split())
    # read as written: no warning; a month-first file with one slip: no warning either
    right = tmp_path / "right.toml"
    right.write_text(SWAP.replace("FMT", "%d/%m/%Y %H:%M"))
    assert cx.ingest(f, mapping=right).warnings == []
    slip = tmp_path / "slip.csv"
    us = [f"{d[3:5]}/{d[:2]}{d[5:]}" for d in dates[:30]] + ["25/12/2024 10:00"]
    slip.write_text("id,cust,when\n" + "".join(f"s{i},c,{d}\n" for i, d in enumerate(us)))
    _, problems, _ = stage(mapping(tmp_path, SWAP.replace("FMT", "%m/%d/%Y %H:%M")), slip)
    assert [p.row for p in problems] == [31]
    assert cx.ingest(slip, mapping=own).warnings == []


def test_excel_serial_days_written_with_a_decimal_comma(tmp_path: Path) -> None:
    """A spreadsheet in a comma locale writes 42617,88542 (a semicolon file, as Excel in
    Brazil or Germany saves it): ``decimal = ","`` on the time reads it, without it the row
    is quarantined naming the value."""
    f = tmp_path / "pagamentos.csv"
    f.write_text("id;cust;at\n1;c1;42617,88542\n2;c2;45474,5\n3;c3;45474.5\n")
    zone = 'zone = "America/Sao_Paulo"'
    spec = EXCEL.replace(f"{zone} }}", f'{zone}, decimal = "," }}')
    spec = '[input]\nformat = "csv"\ndelimiter = ";"\n' + spec.split("due_at =")[0]
    loaded, problems, read = stage(mapping(tmp_path, spec), f)
    assert read == 3 and problems == []
    got = {r["event_id"]: r["ts"] for r in loaded}
    assert got == {
        "r:1": excel_utc(42617.88542, "America/Sao_Paulo"),
        "r:2": excel_utc(45474.5, "America/Sao_Paulo"),
        "r:3": excel_utc(45474.5, "America/Sao_Paulo"),
    }
    plain = spec.replace(', decimal = ","', "")
    loaded, problems, _ = stage(mapping(tmp_path, plain), f)
    assert [(p.row, p.field) for p in problems] == [(1, "at"), (2, "at")]
    assert problems[0].reason.startswith("unparsable time 42617,88542")
