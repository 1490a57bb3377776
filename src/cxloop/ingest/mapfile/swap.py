"""A warning when a date format's day and month look swapped (a day-first file read with
``%m/%d/%Y``, or the other way round).

Such a file loads its days 1-12 with day and month swapped and quarantines the others,
each rightly, but nothing says why. Decided on the quarantined rows only (no pass over
the good ones): when the values that fail a field's format are at least
:data:`SHARE` of the rows its ``[[events]]`` table took, and the format with day and
month swapped reads more than half of them, the ingest report warns.
"""

from __future__ import annotations

import re

import duckdb

from cxloop.ingest.mapfile.checks import TIMES, label
from cxloop.ingest.mapfile.spec import EventSpec, Value
from cxloop.ingest.staging import lit

#: the failing values, as a share of the rows, from which a swap is worth a warning
SHARE = 0.1
_TOKEN = re.compile(r"%(-?)([dm])")


def swapped(fmt: str) -> str | None:
    """``fmt`` with its day and month directives exchanged (None without both)."""
    found = [m.group(2) for m in _TOKEN.finditer(fmt)]
    if sorted(found) != ["d", "m"]:
        return None
    return _TOKEN.sub(lambda m: "%" + m.group(1) + ("m" if m.group(2) == "d" else "d"), fmt)


def _timed(event: EventSpec) -> list[tuple[str, str, str, Value]]:
    """(key, raw column, parsed column, value) of each time read with a strftime format."""
    out = [(f"{event.key}.{n}", f"{n}_raw", n, event.fields[n]) for n in TIMES if n in event.fields]
    out += [
        (f"{event.key}.attrs.{k}", f"_a{j}_raw", f"_a{j}", v)
        for j, (k, v) in enumerate(event.attrs.items())
        if v.type == "time"
    ]
    return [t for t in out if swapped(t[3].format) is not None]


def day_month_warnings(
    con: duckdb.DuckDBPyConnection, event: EventSpec, table: str, bad: str, data: str
) -> list[str]:
    """Warnings for ``event``'s times whose failures read with day and month swapped.

    ``table`` holds the rows the event took (only counted), ``bad`` the quarantined ones."""
    timed = _timed(event)
    if not timed:
        return []
    counts = []
    for _, raw, parsed, v in timed:
        fails = f"{raw} IS NOT NULL AND {parsed} IS NULL"
        other = f"try_strptime({raw}, {lit(str(swapped(v.format)))}) IS NOT NULL"
        counts.append(f"count(*) FILTER (WHERE {fails})")
        counts.append(f"count(*) FILTER (WHERE {fails} AND {other})")
    found = con.execute(f"SELECT {', '.join(counts)} FROM {bad}").fetchone() or ()
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    rows = int(row[0]) if row else 0
    out = []
    for i, (key, _raw, _parsed, v) in enumerate(timed):
        failed, readable = int(found[2 * i]), int(found[2 * i + 1])
        if failed and readable >= SHARE * rows and 2 * readable > failed:
            out.append(_message(key, v, failed, readable, rows, data))
    return out


def _message(key: str, v: Value, failed: int, readable: int, rows: int, data: str) -> str:
    fmt, other = v.format, str(swapped(v.format))
    first = "day" if re.search(r"%-?m.*%-?d", fmt) else "month"
    many = "all" if readable == failed else f"{readable:,}"
    return (
        f"{data}: {key} ({label(v)}): {failed:,} of {rows:,} values fail {fmt}; {many} "
        f"would parse as {other}: is the file {first}-first? If so, the rows that loaded "
        f"have day and month swapped: fix the format (format = {other!r})."
    )
