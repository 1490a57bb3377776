"""Shared staging steps for mappings: row checks, quarantine, canonical rows.

A mapping prepares a DuckDB table of candidate events (one row per event, with
``_row`` and ``_file``) plus row checks; :func:`split_bad_rows` turns failed
checks into problems naming file, row and field, and keeps only clean rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from cxloop.domain.events import EVENT_COLUMNS, EVENT_TYPES
from cxloop.ingest.depth import FUNCTION as DEPTH_FUNCTION
from cxloop.ingest.depth import MAX_ATTRS_DEPTH, too_deep
from cxloop.store.state import Problem

ISO_HINT = "expected ISO 8601, e.g. 2026-05-01T14:30:00Z"
#: The times an event may carry (UTC); outside them a time is a typo or a placeholder
#: (0001-01-01, 9999-12-31, infinity) and is quarantined.
TIME_RANGE = ("1900-01-01", "2200-01-01")
#: A UTC offset at the end of a time (``+05:30``, ``-0800``); more than 14 hours (the
#: widest real one) or 59 minutes is quarantined, not wrapped into another day.
OFFSET_RE = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*[+-](\d{2}):?(\d{2})?$"
#: The longest identifier (event_id, customer_id, ref, channel) accepted.
MAX_ID_CHARS = 1000
#: Control characters (NUL, terminal escapes) are quarantined in identifiers.
CONTROL_RE = "[\\x00-\\x1f\\x7f-\\x9f]"


def q(identifier: str) -> str:
    """Quote a SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def text(col: str) -> str:
    """A trimmed text column, NULL when empty."""
    return f"nullif(trim({col}), '')"


def ts(col: str) -> str:
    """Parse text as a UTC timestamp (offsets converted; no offset means UTC).

    A time ending in ``Z`` (UTC, what most exports write) is cast to TIMESTAMP directly,
    a quarter of the cost of the cast through TIMESTAMPTZ and the same value (the session's
    zone is UTC); should that cast fail, the TIMESTAMPTZ one still decides."""
    t = text(col)
    aware = f"try_cast({t} AS TIMESTAMPTZ)::TIMESTAMP"
    return (
        f"CASE WHEN ends_with({t}, 'Z') THEN coalesce(try_cast({t} AS TIMESTAMP), {aware}) "
        f"ELSE {aware} END"
    )


def record_json(columns: Sequence[str], alias: str = "r") -> str:
    """The raw row as a JSON object (for the quarantine)."""
    if not columns:
        return "'{}'"
    parts = ", ".join(f"{lit(c)}, {alias}.{q(c)}" for c in columns)
    return f"json_object({parts})"


@dataclass(frozen=True)
class Check:
    """A row fails when ``failed`` (SQL over the prepared table) is true."""

    field: str
    failed: str
    reason: str  # SQL expression yielding the message
    value: str = "NULL"  # SQL expression yielding the offending value


def timestamp_checks(field: str, raw: str, parsed: str, required: bool) -> list[Check]:
    low, high = TIME_RANGE
    hours = f"try_cast(regexp_extract({raw}, {lit(OFFSET_RE)}, 3) AS INTEGER)"
    minutes = f"coalesce(try_cast(regexp_extract({raw}, {lit(OFFSET_RE)}, 4) AS INTEGER), 0)"
    checks = [
        Check(
            field,
            f"{raw} IS NOT NULL AND {parsed} IS NULL",
            f"'unparsable date ' || left({raw}, 80) || ' ({ISO_HINT})'",
            raw,
        ),
        Check(
            field,
            # a time ending in Z has no offset: the two regular expressions are skipped
            f"{parsed} IS NOT NULL AND CASE WHEN ends_with({raw}, 'Z') THEN false "
            f"ELSE {hours} > 14 OR {minutes} > 59 END",
            f"'UTC offset out of range in ' || left({raw}, 80) || ' (at most +/-14:00)'",
            raw,
        ),
        Check(
            field,
            f"{parsed} IS NOT NULL AND NOT (isfinite({parsed}) AND {parsed} >= TIMESTAMP "
            f"{lit(low)} AND {parsed} < TIMESTAMP {lit(high)})",
            f"'time out of range: ' || left({raw}, 80) || ' (expected {low[:4]} to "
            f"{int(high[:4]) - 1})'",
            raw,
        ),
    ]
    if required:
        checks.insert(0, Check(field, f"{raw} IS NULL", "'is empty (required)'"))
    return checks


def canonical_checks() -> list[Check]:
    """Checks every canonical event must pass, over columns named as the schema
    (``ts_raw``, ``due_at_raw``, ``amount_raw`` hold the original text)."""
    from cxloop.ingest.vocabulary import vocabulary_checks

    types = ", ".join(lit(t) for t in sorted(EVENT_TYPES))
    return [
        *identifier_checks(("event_id", "customer_id", "ref", "channel")),
        Check("customer_id", "customer_id IS NULL", "'is empty (required)'"),
        Check("event_type", "event_type IS NULL", "'is empty (required)'"),
        Check(
            "event_type",
            f"event_type NOT IN ({types})",
            f"'unknown event type ' || event_type || ' (expected one of: ' || "
            f"{lit(', '.join(sorted(EVENT_TYPES)))} || ')'",
            "event_type",
        ),
        *timestamp_checks("ts", "ts_raw", "ts", required=True),
        *timestamp_checks("due_at", "due_at_raw", "due_at", required=False),
        Check(
            "amount",
            "amount_raw IS NOT NULL AND amount IS NULL",
            "'not a number: ' || left(amount_raw, 80)",
            "amount_raw",
        ),
        Check(
            "amount",
            "amount IS NOT NULL AND NOT isfinite(amount)",
            "'not a finite number: ' || left(amount_raw, 80)",
            "amount_raw",
        ),
        # departments and channels: as configured (cxloop.ingest.vocabulary)
        *vocabulary_checks(),
        Check(
            "attrs",
            # json_type only where json_valid: it raises on invalid JSON
            "attrs IS NOT NULL AND CASE WHEN json_valid(attrs) THEN json_type(attrs) <> 'OBJECT'"
            " ELSE true END",
            "CASE WHEN json_valid(attrs) THEN 'not a JSON object: ' ELSE 'invalid JSON: ' END"
            " || left(attrs, 80)",
            "left(attrs, 200)",
        ),
        Check(
            "attrs",
            f"attrs IS NOT NULL AND {too_deep('attrs')}",
            f"'nested ' || CAST({DEPTH_FUNCTION}(attrs) AS VARCHAR) || ' levels deep (at most "
            f"{MAX_ATTRS_DEPTH})'",
            "left(attrs, 200)",
        ),
    ]


def identifier_checks(columns: Sequence[str]) -> list[Check]:
    """Identifiers with control characters (NUL, terminal escapes) or over
    :data:`MAX_ID_CHARS` characters are quarantined, never stored."""
    checks = []
    for col in columns:
        checks.append(
            Check(
                col,
                f"regexp_matches({col}, {lit(CONTROL_RE)})",
                "'contains a control character (NUL, escape, line break) at position ' || "
                f"CAST(length(regexp_extract({col}, '^[^\\x00-\\x1f\\x7f-\\x9f]*')) + 1 "
                "AS VARCHAR)",
                f"left({col}, 200)",
            )
        )
        checks.append(
            Check(
                col,
                f"length({col}) > {MAX_ID_CHARS}",
                f"'is ' || CAST(length({col}) AS VARCHAR) || ' characters long "
                f"(at most {MAX_ID_CHARS})'",
                f"left({col}, 200)",
            )
        )
    return checks


def any_failed(checks: Sequence[Check]) -> str:
    """SQL true when a row fails any of ``checks`` (false, never NULL, when it passes).

    The control-character checks of several identifiers are one regular expression over
    them together (the same rows fail: one of them holds such a character)."""
    if not checks:
        return "false"
    control = f"regexp_matches({{}}, {lit(CONTROL_RE)})"
    idents = [c.field for c in checks if c.failed == control.format(c.field)]
    parts = [f"coalesce({c.failed}, false)" for c in checks if c.failed != control.format(c.field)]
    if idents:
        joined = "concat(" + ", ".join(f"coalesce({c}, '')" for c in idents) + ")"
        parts.insert(0, control.format(joined))
    return "(" + " OR ".join(parts) + ")"


def split_bad_rows(
    con: duckdb.DuckDBPyConnection,
    prepared: str,
    checks: Sequence[Check],
    bad_table: str,
    records_from: str | None = None,
) -> list[Problem]:
    """Evaluate checks over ``prepared`` (needs ``_file`` and ``_row``).

    One pass finds the failing rows and keeps them in ``bad_table``; the problems are then
    worked out on those few rows only. The raw record (``_record``) comes from ``prepared``
    itself, or from ``records_from`` (a view over the raw rows) for the bad rows alone, so
    it is never built for the good ones.
    """
    if not checks:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {bad_table} AS "
            "SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _row WHERE false"
        )
        return []
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {bad_table} AS SELECT * FROM {prepared} "
        f"WHERE {any_failed(checks)}"
    )
    union = " UNION ALL ".join(
        f"SELECT _file, _row, {lit(c.field)} AS field, {c.reason} AS reason, "
        f"CAST({c.value} AS VARCHAR) AS value FROM {bad_table} WHERE coalesce({c.failed}, false)"
        for c in checks
    )
    if records_from is None:
        records = f"SELECT _file, _row, CAST(_record AS VARCHAR) AS record FROM {bad_table}"
    else:
        records = (
            f"SELECT _file, _row, CAST(_record AS VARCHAR) AS record FROM {records_from} "
            f"WHERE (_file, _row) IN (SELECT (_file, _row) FROM {bad_table})"
        )
    rows = con.execute(f"""
        SELECT DISTINCT p._file, p._row, p.field, p.reason, p.value, r.record
        FROM ({union}) p LEFT JOIN ({records}) r USING (_file, _row)
        ORDER BY p._file, p._row, p.field
    """).fetchall()
    return [
        Problem(f, int(r), field, reason, value, rec) for f, r, field, reason, value, rec in rows
    ]


def content_hash_sql() -> str:
    """md5 over every canonical column except the id (fixed order, NULL-safe)."""
    parts = []
    for col in EVENT_COLUMNS:
        if col.name == "event_id":
            continue
        parts.append(f"coalesce(CAST({col.name} AS VARCHAR), '\\N')")
    return "md5(concat_ws(chr(31), " + ", ".join(parts) + "))"


def log_columns_sql(source: str) -> str:
    """The log columns (but ``ingest_id``, NULL) of a prepared table holding the canonical
    columns (``event_id`` final), ``_file``, ``_row`` and ``content_hash``."""
    cols = [
        "CAST(attrs AS VARCHAR) AS attrs" if c.name == "attrs" else c.name for c in EVENT_COLUMNS
    ]
    return (
        f"{', '.join(cols)}, {lit(source)} AS source, _file AS source_file, "
        "_row AS source_row, NULL::VARCHAR AS ingest_id, content_hash"
    )


def finish_staging(
    con: duckdb.DuckDBPyConnection, prepared: str, bad_table: str, staged: str, source: str
) -> None:
    """Create the view ``staged``: the log columns (but ``ingest_id``) of the clean rows.

    A view, not a table: the log's append reads it once, so the rows are not copied twice.
    """
    cols = [
        "CAST(attrs AS VARCHAR) AS attrs" if c.name == "attrs" else c.name
        for c in EVENT_COLUMNS
        if c.name != "event_id"
    ]
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {staged} AS
        SELECT coalesce(event_id, 'g-' || md5(concat_ws(chr(31), customer_id, event_type,
                   CAST(ts AS VARCHAR), coalesce(ref, '\\N')))) AS event_id,
               {", ".join(cols)},
               {lit(source)} AS source, _file AS source_file, _row AS source_row,
               NULL::VARCHAR AS ingest_id,
               {content_hash_sql()} AS content_hash
        FROM {prepared} p
        WHERE NOT EXISTS (SELECT 1 FROM {bad_table} b WHERE b._file = p._file AND b._row = p._row)
    """)
