"""Score answers outside their metric's configured scale go to the quarantine.

Runs on what any mapping staged (the log columns), so every mapping's survey answers,
reviews and employee feedback are checked against the same configured scales
(:mod:`cxloop.workspace.metrics`): a 5 on a pulse metric declared 1-4 is quarantined with
the scale named, never stored to skew the reports.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from cxloop.domain.events import VOICE_TYPES, EventType
from cxloop.domain.scores import Scale
from cxloop.ingest.mappings.base import Staged
from cxloop.ingest.staging import lit
from cxloop.store.state import Problem

_FIELDS = ("event_type", "customer_id", "ts", "ref", "attrs")


def _bad_answers_sql(staged: str, scales: Mapping[str, Scale], refuse_unknown: bool) -> str:
    types = ", ".join(lit(t.value) for t in VOICE_TYPES)
    known = ", ".join(
        f"({lit(s.metric)}, {s.low!r}::DOUBLE, {s.high!r}::DOUBLE)" for s in scales.values()
    )
    record = ", ".join(f"{lit(c)}, CAST(v.{c} AS VARCHAR)" for c in _FIELDS)
    return f"""
        SELECT v.source_file AS _file, v.source_row AS _row, v.metric, v.score_raw,
               m.low, m.high, json_object({record}) AS record
        FROM (
          SELECT *,
                 coalesce(lower(nullif(trim(json_extract_string(attrs, '$.metric')), '')),
                          CASE WHEN event_type = {lit(EventType.REVIEW.value)}
                               THEN 'review' END) AS metric,
                 nullif(trim(json_extract_string(attrs, '$.score')), '') AS score_raw
          FROM {staged}
          WHERE event_type IN ({types}) AND attrs IS NOT NULL
        ) v LEFT JOIN (VALUES {known}) m(metric, low, high) ON m.metric = v.metric
        WHERE v.score_raw IS NOT NULL AND CASE
          WHEN m.metric IS NULL THEN {"true" if refuse_unknown else "false"}
          ELSE try_cast(v.score_raw AS DOUBLE) IS NULL
               OR try_cast(v.score_raw AS DOUBLE) NOT BETWEEN m.low AND m.high END
    """


def quarantine_out_of_scale(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    scales: Mapping[str, Scale],
    where: str,
    refuse_unknown: bool = False,
) -> Staged:
    """``staged`` without the rows whose score is not a number on its metric's scale (or,
    with ``refuse_unknown``, whose metric is not declared), and a problem for each naming
    the scale, or the declared metrics, and where they are configured (``where``)."""
    if not scales:
        return staged
    rows = con.execute(_bad_answers_sql(staged.table, scales, refuse_unknown)).fetchall()
    if not rows:
        return staged
    declared = ", ".join(scales)
    problems = [
        _problem(str(file), int(row), metric, str(raw), low, high, where, declared, str(record))
        for file, row, metric, raw, low, high, record in rows
    ]
    bad = sorted({(p.file, p.row) for p in problems})
    con.execute("CREATE OR REPLACE TEMP TABLE _scale_bad (_file VARCHAR, _row BIGINT)")
    con.executemany("INSERT INTO _scale_bad VALUES (?, ?)", bad)
    kept = f"{staged.table}_in_scale"
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {kept} AS SELECT * FROM {staged.table} s
        WHERE NOT EXISTS (SELECT 1 FROM _scale_bad b
                          WHERE b._file = s.source_file AND b._row = s.source_row)
    """)
    return Staged(kept, staged.rows_read, [*staged.problems, *problems], staged.warnings)


def _problem(
    file: str,
    row: int,
    metric: str | None,
    raw: str,
    low: float | None,
    high: float | None,
    where: str,
    declared: str,
    record: str,
) -> Problem:
    if low is None or high is None:
        what = f"metric {metric!r} is not declared" if metric else "a score without a metric"
        reason = f"{what} (declared: {declared}; {where}; unknown_metrics = refuse)"
        return Problem(file, row, "attrs.metric", reason, metric, record)
    if _is_number(raw):
        reason = f"score {raw} is outside the {metric} scale {low:g}-{high:g} ({where})"
    else:
        reason = f"score {raw!r} is not a number on the {metric} scale {low:g}-{high:g} ({where})"
    return Problem(file, row, "attrs.score", reason, raw, record)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
