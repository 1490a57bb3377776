"""The ``generic`` mapping: files already in the canonical event columns.

See docs/events.md. Columns other than the canonical ones are folded into
``attrs`` (a JSON object), so nothing in the source is lost.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cxloop.domain.events import DEFAULT_DEPARTMENT, EVENT_COLUMNS
from cxloop.errors import MappingError
from cxloop.ingest.documents import SUFFIX_FORMATS, read_any
from cxloop.ingest.mappings.base import Staged
from cxloop.ingest.readers import RawTable, release
from cxloop.ingest.staging import (
    canonical_checks,
    finish_staging,
    lit,
    q,
    record_json,
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
        prepared_parts: list[str] = []
        problems = []
        raws: list[RawTable] = []
        rows = 0
        for i, file in enumerate(self.inputs(path)):
            raw = read_any(con, file)
            raws.append(raw)
            missing = [c for c in REQUIRED if c not in raw.columns]
            if missing and (raw.columns or not raw.problems):  # else: every line is bad
                raise MappingError(
                    f"{file}: missing column(s) {', '.join(missing)}; the generic mapping needs "
                    f"{', '.join(REQUIRED)} (optional: "
                    f"{', '.join(c for c in CANONICAL if c not in REQUIRED)})"
                )
            rows += raw.rows
            problems.extend(raw.problems)
            prepared_parts.append(self._prepare(con, raw.name, raw.columns, raw.file, i))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _prepared AS {' UNION ALL BY NAME '.join(prepared_parts)}"
        )
        # parse once into typed rows; the raw record is built for bad rows only
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _parsed AS SELECT * EXCLUDE (_record) FROM _prepared"
        )
        problems.extend(
            split_bad_rows(con, "_parsed", canonical_checks(), "_bad", records_from="_prepared")
        )
        con.execute("DROP VIEW _prepared")
        for i, raw in enumerate(raws):  # the typed rows are all that is needed now
            con.execute(f"DROP VIEW _prep{i}")
            release(con, raw)
        finish_staging(con, "_parsed", "_bad", staged, self.name)
        return Staged(staged, rows, problems)

    def _prepare(
        self, con: duckdb.DuckDBPyConnection, raw: str, columns: list[str], file: str, index: int
    ) -> str:
        def col(name: str) -> str:
            return f"r.{q(name)}" if name in columns else "NULL::VARCHAR"

        extras = [c for c in columns if c not in CANONICAL]
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
        name = f"_prep{index}"
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT *, coalesce(department_given, {_default_department()}) AS department
            FROM (
              SELECT {text(col("event_id"))} AS event_id,
                     {text(col("customer_id"))} AS customer_id,
                     lower({text(col("event_type"))}) AS event_type,
                     {text(col("ts"))} AS ts_raw, {ts(col("ts"))} AS ts,
                     {normalise_sql(col("department"))} AS department_given,
                     {normalise_sql(col("channel"))} AS channel,
                     {text(col("ref"))} AS ref,
                     {text(col("amount"))} AS amount_raw,
                     try_cast({text(col("amount"))} AS DOUBLE) AS amount,
                     {text(col("due_at"))} AS due_at_raw, {ts(col("due_at"))} AS due_at,
                     {attrs} AS attrs,
                     {lit(file)} AS _file, r._row AS _row,
                     {record_json(columns)} AS _record
              FROM {raw} r)
        """)
        return f"SELECT * EXCLUDE (department_given) FROM {name}"
