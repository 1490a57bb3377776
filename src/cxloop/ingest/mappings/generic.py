"""The ``generic`` mapping: files already in the canonical event columns.

See docs/events.md. Columns other than the canonical ones are folded into
``attrs`` (a JSON object), so nothing in the source is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from cxloop.domain.events import DEFAULT_DEPARTMENT, EVENT_COLUMNS
from cxloop.errors import MappingError
from cxloop.ingest import depth, readers
from cxloop.ingest.documents import SUFFIX_FORMATS, read_any
from cxloop.ingest.mappings.base import Staged
from cxloop.ingest.readers import RawTable, release
from cxloop.ingest.staging import (
    any_failed,
    canonical_checks,
    content_hash_sql,
    lit,
    log_columns_sql,
    q,
    split_bad_rows,
    text,
    ts,
)
from cxloop.ingest.vocabulary import normalise_sql

CANONICAL = [c.name for c in EVENT_COLUMNS]
REQUIRED = [c.name for c in EVENT_COLUMNS if c.required]


def _default_department() -> str:
    cases = " ".join(
        f"WHEN {lit(t.value)} THEN {lit(d.value)}" for t, d in DEFAULT_DEPARTMENT.items()
    )
    return f"CASE event_type {cases} END"


class GenericMapping:
    name = "generic"
    description = (
        "Canonical event columns (event_id, customer_id, event_type, ts, department, "
        "channel, ref, amount, due_at, attrs) in CSV, JSON (an array of records or one "
        "record), JSON Lines or Parquet; a directory loads every such file in it."
    )

    def inputs(self, path: Path) -> list[Path]:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIX_FORMATS)
            if not files:
                raise MappingError(
                    f"{path}: no CSV, JSON, JSON Lines or Parquet files in this directory"
                )
            return files
        return [path]

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, staged: str) -> Staged:
        """Parse, check and hash each file's rows in one pass as they are read (a CSV
        streams: only the parsed table is kept, and it spills to disk beyond the memory
        limit); the raw record is kept for the bad rows only."""
        parts: list[str] = []
        problems = []
        rows = 0
        depth.register(con)  # the attrs nesting check's measurement
        for i, file in enumerate(self.inputs(path)):
            parsed = self._read(con, file, f"_parsed{i}")
            rows += parsed.rows
            problems.extend(parsed.problems)
            # the file's name is a constant of the view, not a column of the parsed rows
            parts.append(f"SELECT *, {lit(str(file))} AS _file FROM {parsed.name}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW _parsed AS {' UNION ALL BY NAME '.join(parts)}")
        con.execute("CREATE OR REPLACE TEMP VIEW _parsed_bad AS SELECT * FROM _parsed WHERE _bad")
        problems.extend(split_bad_rows(con, "_parsed_bad", canonical_checks(), "_bad"))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {staged} AS "
            f"SELECT {log_columns_sql(self.name)} FROM _parsed WHERE NOT _bad"
        )
        return Staged(staged, rows, problems)

    def _read(self, con: duckdb.DuckDBPyConnection, file: Path, name: str) -> RawTable:
        """``file``'s rows parsed and checked (``_bad``, ``_record`` for bad rows) as
        relation ``name``, with ``_row`` (``_file`` is added by :meth:`stage`)."""

        def project(columns: list[str], source: str) -> str:
            self._require(file, columns)
            return self._parse(columns, source)

        if readers.FORMATS.get(file.suffix.lower()) == "csv":
            return readers.read_file(con, file, name, project)
        raw = read_any(con, file)
        if raw.columns or not raw.problems:  # else: every line is bad
            self._require(file, raw.columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS "
            + self._parse(raw.columns, raw.name, keep="_row")
        )
        release(con, raw)
        return RawTable(name, raw.file, raw.columns, raw.rows, raw.problems, registered=False)

    @staticmethod
    def _require(file: Path, columns: list[str]) -> None:
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise MappingError(
                f"{file}: missing column(s) {', '.join(missing)}; the generic mapping needs "
                f"{', '.join(REQUIRED)} (optional: "
                f"{', '.join(c for c in CANONICAL if c not in REQUIRED)})"
            )

    def _parse(self, columns: list[str], source: str, keep: str = "") -> str:
        """The query over ``source`` (raw rows ``r``): canonical columns,
        ``_bad`` (a check failed), ``content_hash`` and ``_record`` (bad rows only);
        ``keep`` names a raw column passed through (the row number)."""

        def col(name: str) -> str:
            return f"r.{q(name)}" if name in columns else "NULL::VARCHAR"

        raw_cols = [c for c in columns if c != keep]
        record = "to_json(_raw)" if raw_cols else "'{}'"
        raw = "struct_pack(" + ", ".join(f"{q(c)} := r.{q(c)}" for c in raw_cols) + ")"
        generated = (
            "'g-' || md5(concat_ws(chr(31), customer_id, event_type, CAST(ts AS VARCHAR), "
            "coalesce(ref, '\\N')))"
        )
        return f"""
            SELECT * EXCLUDE (_raw) REPLACE (
                     coalesce(event_id, {generated}) AS event_id,
                     CASE WHEN _bad THEN ts_raw END AS ts_raw,
                     CASE WHEN _bad THEN due_at_raw END AS due_at_raw,
                     CASE WHEN _bad THEN amount_raw END AS amount_raw),
                   CASE WHEN _bad THEN CAST({record} AS VARCHAR) END AS _record
            FROM (
              SELECT *, {any_failed(canonical_checks())} AS _bad,
                     {content_hash_sql()} AS content_hash
              FROM (
                SELECT * EXCLUDE (department_given),
                       coalesce(department_given, {_default_department()}) AS department
                FROM (
                  SELECT {self._columns(columns, col)},
                         {raw if raw_cols else "NULL"} AS _raw
                         {f", r.{q(keep)} AS {q(keep)}" if keep else ""}
                  FROM {source} r)))
        """

    @staticmethod
    def _columns(columns: list[str], col: Callable[[str], str]) -> str:
        """The canonical columns parsed from the raw ones (extras folded into attrs)."""
        extras = [c for c in columns if c not in CANONICAL and c != "_row"]
        attrs = f"nullif({col('attrs')}, '')"  # JSON ignores spaces; trim is costly here
        if extras:
            pairs = ", ".join(f"{lit(c)}, {text('r.' + q(c))}" for c in extras)
            given = attrs
            merged = (
                f"nullif(json_merge_patch(coalesce({given}, '{{}}'), json_object({pairs})), '{{}}')"
            )
            # an invalid attrs value is kept as it is, for the attrs check to quarantine
            attrs = (
                f"CASE WHEN {given} IS NULL OR (json_valid({given}) AND "
                f"json_type({given}) = 'OBJECT') THEN {merged} ELSE {given} END"
            )
        return f"""{text(col("event_id"))} AS event_id,
                   {text(col("customer_id"))} AS customer_id,
                   lower({text(col("event_type"))}) AS event_type,
                   {text(col("ts"))} AS ts_raw, {ts(col("ts"))} AS ts,
                   {normalise_sql(col("department"))} AS department_given,
                   {normalise_sql(col("channel"))} AS channel,
                   {text(col("ref"))} AS ref,
                   {text(col("amount"))} AS amount_raw,
                   try_cast({text(col("amount"))} AS DOUBLE) AS amount,
                   {text(col("due_at"))} AS due_at_raw, {ts(col("due_at"))} AS due_at,
                   {attrs} AS attrs"""
