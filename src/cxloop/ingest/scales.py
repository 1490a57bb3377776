"""Score answers outside their metric's configured scale go to the quarantine.

Runs on what any mapping staged (the log columns), so every mapping's survey answers,
reviews and employee feedback are checked against the same configured scales
(:mod:`cxloop.services.metrics`): a 5 on a pulse metric declared 1-4 is quarantined with
the scale named, never stored to skew the reports.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from cxloop.analytics.voice import VOICE_TYPES
from cxloop.domain.events import EventType
from cxloop.domain.scores import Scale
from cxloop.ingest.mappings.base import Staged
from cxloop.ingest.staging import lit
from cxloop.store.state import Problem

_FIELDS = ("event_type", "customer_id", "ts", "ref", "attrs")


def _bad_answers_sql(staged: str, scales: Mapping[str, Scale]) -> str:
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
        ) v JOIN (VALUES {known}) m(metric, low, high) USING (metric)
        WHERE v.score_raw IS NOT NULL AND (
          try_cast(v.score_raw AS DOUBLE) IS NULL
          OR try_cast(v.score_raw AS DOUBLE) NOT BETWEEN m.low AND m.high)
    """


def quarantine_out_of_scale(
    con: duckdb.DuckDBPyConnection, staged: Staged, scales: Mapping[str, Scale], where: str
) -> Staged:
    """``staged`` without the rows whose score is not a number on its metric's scale, and
    a problem for each naming the scale and where it is configured (``where``)."""
    if not scales:
        return staged
    rows = con.execute(_bad_answers_sql(staged.table, scales)).fetchall()
    if not rows:
        return staged
    problems = [
        Problem(
            str(file),
            int(row),
            "attrs.score",
            (
                f"score {raw} is outside the {metric} scale {low:g}-{high:g} ({where})"
                if _is_number(str(raw))
                else f"score {raw!r} is not a number on the {metric} scale {low:g}-{high:g} "
                f"({where})"
            ),
            str(raw),
            str(record),
        )
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
    return Staged(kept, staged.rows_read, [*staged.problems, *problems])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
