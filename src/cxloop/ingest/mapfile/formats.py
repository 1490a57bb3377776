"""Numbers and numeric times of a mapping file, as DuckDB SQL, with the reasons they fail.

Numeric times (``epoch``, ``epoch_ms``, ``excel``) are held to a plausible range: from the
field's ``not_before`` (default :data:`DEFAULT_NOT_BEFORE`) to a hard ceiling per format,
so that a spreadsheet serial day number read as seconds (43137.42 -> 1970-01-01 11:58)
or milliseconds read as seconds (year 55,000) are quarantined, never loaded. Numbers
accept thousands separators only in groups of three digits (``1,04.01`` is no number).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from cxloop.ingest.mapfile.model import Value
from cxloop.ingest.staging import lit

#: numeric times before this date are quarantined unless a field sets ``not_before``
DEFAULT_NOT_BEFORE = "1990-01-01"
NUMERIC = ("epoch", "epoch_ms", "excel")
#: seconds since 1970 from 1e11 on (the year 5138) are not seconds: milliseconds, or more
EPOCH_CEILING_S = 100_000_000_000
#: spreadsheet serial days: 61 is 1900-03-01 (before it, the 1900 leap-year bug shifts
#: the days by one, and 60 is the 29 February 1900 that never was); 2958465 is 9999-12-31
EXCEL_FIRST, EXCEL_LAST = 61, 2_958_465
EXCEL_EPOCH = date(1899, 12, 30)
#: another numeric format is suggested when it reads the value as a time before this one
SUGGEST_BEFORE = "2120-01-01"
SPACES = " \u00a0\u202f"  # a space, a no-break space, a narrow no-break space
APOSTROPHES = "'\u2019"
THOUSANDS = {",": ",", ".": ".", " ": SPACES, "'": APOSTROPHES}
SHOWN = "%Y-%m-%d %H:%M:%S"


def not_before(v: Value) -> str | None:
    """The earliest time a field accepts (numeric formats have one by default)."""
    if v.not_before is not None:
        return v.not_before
    return DEFAULT_NOT_BEFORE if v.format in NUMERIC else None


def numeric_time_sql(v: Value, raw: str, floor: bool = True) -> str:
    """A naive TIMESTAMP (NULL out of range) for ``epoch``, ``epoch_ms`` or ``excel``;
    with ``decimal = ","`` the fraction follows a comma (42617,88542: how a spreadsheet
    in such a locale writes a serial day number)."""
    num = f"replace({raw}, ',', '.')" if v.decimal == "," else raw
    x = f"try_cast({num} AS DOUBLE)"
    first = date.fromisoformat(not_before(v) or DEFAULT_NOT_BEFORE)
    if v.format == "excel":
        low = max(EXCEL_FIRST, (first - EXCEL_EPOCH).days) if floor else EXCEL_FIRST
        days = f"to_seconds(CAST(round({x} * 86400) AS BIGINT))"
        return (
            f"(CASE WHEN {x} >= {low} AND {x} < {EXCEL_LAST + 1} "
            f"THEN TIMESTAMP '{EXCEL_EPOCH}' + {days} END)"
        )
    s = f"({x} / 1000.0)" if v.format == "epoch_ms" else x
    low_s = (first - date(1970, 1, 1)).days * 86400 if floor else -EPOCH_CEILING_S
    return (
        f"(CASE WHEN {s} >= {low_s} AND {s} < {EPOCH_CEILING_S} "
        f"THEN CAST(to_timestamp({s}) AS TIMESTAMP) END)"
    )


def floored(v: Value, ts: str) -> str:
    """``ts`` (a UTC TIMESTAMP), NULL when before an explicit ``not_before``."""
    if v.not_before is None or v.format in NUMERIC:
        return ts  # numeric formats are held to it on the number itself
    return f"(CASE WHEN {ts} >= TIMESTAMP '{v.not_before}' THEN {ts} END)"


def time_reason_sql(v: Value, raw: str, hint: str, loose: str) -> str:
    """Why the time in column ``raw`` failed: unparsable, out of range or too early.

    ``loose`` is the time parsed without ``not_before`` (NULL only when unparsable or
    out of the format's range); evaluated on the quarantined rows only."""
    unparsable = f"'unparsable time ' || {raw} || {lit(f' (expected {hint})')}"
    first = not_before(v)
    if first is None:
        return unparsable
    early = (
        f"'time ' || {raw} || ' lands on ' || strftime({loose}, {lit(SHOWN)}) || "
        f"{lit(f', before {first} (not_before) as {hint}')}"
    )
    if v.format not in NUMERIC:
        return f"(CASE WHEN {loose} IS NULL THEN {unparsable} ELSE {early} END)"
    out = f"'time ' || {raw} || {lit(f' is out of range as {hint}')}"
    return (
        f"(CASE WHEN try_cast({raw} AS DOUBLE) IS NULL THEN {unparsable} "
        f"WHEN {loose} IS NULL THEN {out} || {_suggest(v, raw)} "
        f"ELSE {early} || {_suggest(v, raw)} END)"
    )


def _suggest(v: Value, raw: str) -> str:
    """SQL: '; as format = "excel" it is ...' for the first other numeric format that
    reads the value as a plausible time (from not_before to SUGGEST_BEFORE), else ''."""
    cases = []
    for fmt in ("excel", "epoch", "epoch_ms"):
        if fmt == v.format:
            continue
        t = numeric_time_sql(replace(v, format=fmt), raw)
        what = "a spreadsheet serial day number" if fmt == "excel" else f"{fmt} time"
        cases.append(
            f"WHEN {t} < TIMESTAMP '{SUGGEST_BEFORE}' THEN "
            f"{lit(f'; it looks like {what}: with format = {chr(34)}{fmt}{chr(34)} it reads ')}"
            f" || strftime({t}, {lit(SHOWN)})"
        )
    return f"(CASE {' '.join(cases)} ELSE '' END)"


def _class(seps: str) -> str:
    chars = "".join(THOUSANDS[s] for s in seps)
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]"


def number_sql(raw: str, decimal: str, thousands: str) -> str:
    """A DOUBLE (NULL when not a finite number). Thousands separators (any of
    ``thousands``) count only between groups of three digits before the decimal mark."""
    other = "." if decimal == "," else ","
    plain = f"replace({raw}, ',', '.')" if decimal == "," else raw
    plain_ok = f"NOT regexp_matches({raw}, {lit(_class(thousands + other))})"
    if not thousands:
        value = f"(CASE WHEN {plain_ok} THEN try_cast({plain} AS DOUBLE) END)"
    else:
        groups = "|".join(f"(?:{_class(s)}[0-9]{{3}})+" for s in thousands)
        grouped = f"^[+-]?[0-9]{{1,3}}(?:{groups})(?:{re.escape(decimal)}[0-9]+)?$"
        stripped = f"regexp_replace({raw}, {lit(_class(thousands))}, '', 'g')"
        if decimal == ",":
            stripped = f"replace({stripped}, ',', '.')"
        value = (
            f"(CASE WHEN regexp_matches({raw}, {lit(grouped)}) THEN try_cast({stripped} AS DOUBLE)"
            f" WHEN {plain_ok} THEN try_cast({plain} AS DOUBLE) END)"
        )
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def number_hint(v: Value) -> str:
    """What a number field accepts, for the reason of a value that is no number."""
    seps = " or ".join("a space" if s == " " else f"'{s}'" for s in v.thousands) or "none"
    return (
        f" (decimal mark '{v.decimal}', thousands separator {seps}: a separator splits "
        "the digits before the decimal mark into groups of 3)"
    )
