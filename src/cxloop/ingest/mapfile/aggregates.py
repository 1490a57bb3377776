"""Aggregate lookups: one row of values per key over another input's rows.

``[lookup.items] aggregate = { n = { fn = "count" }, value = { fn = "sum", of = [...] } }``
becomes a table ``_agg_items`` (``_k`` and one text column per aggregate). A looked-up row
whose value does not parse as its declared type is quarantined (file, row, field) and left
out of the aggregates, never counted as empty.
"""

from __future__ import annotations

import duckdb

from cxloop.ingest.mapfile.checks import _joins, label
from cxloop.ingest.mapfile.spec import Aggregate, MapSpec
from cxloop.ingest.mapfile.values import Scope, mapped_sql, typed_sql
from cxloop.ingest.staging import Check, q, split_bad_rows
from cxloop.store.state import Problem


def _fn_sql(agg: Aggregate, cols: list[str]) -> str:
    if agg.fn == "count":
        return "CAST(count(*) AS VARCHAR)"
    # numbers travel as text with 17 significant digits: read back, the same double
    if agg.fn == "sum":
        expr = cols[0] if len(cols) == 1 else " + ".join(f"coalesce({c}, 0)" for c in cols)
        return f"printf('%.17g', sum({expr} ORDER BY _file, _row))"
    if agg.of[0].type == "number":
        return f"printf('%.17g', {agg.fn}({cols[0]}))"
    if agg.fn == "list":
        return f"CAST(to_json(list(DISTINCT {cols[0]} ORDER BY {cols[0]})) AS VARCHAR)"
    return f"CAST({agg.fn}({cols[0]}) AS VARCHAR)"


def build_aggregate(
    con: duckdb.DuckDBPyConnection,
    spec: MapSpec,
    name: str,
    scope: Scope,
    index: dict[str, int],
) -> list[Problem]:
    """Create ``_agg_NAME``; return the problems of the rows left out."""
    lk = spec.lookups[name]
    i = index[lk.input]
    if lk.key not in scope.columns and scope.absent(None):  # an optional file that is absent
        empty = ", ".join(f"NULL::VARCHAR AS {q(a)}" for a in lk.aggregate)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _agg_{name} AS "
            f"SELECT NULL::VARCHAR AS _k, {empty} WHERE false"
        )
        return []
    if lk.key not in scope.columns:
        raise scope.missing(lk.key, f"lookup.{name}.key", scope.columns)
    selects, checks, fns = [], [], []
    for a, (agg_name, agg) in enumerate(lk.aggregate.items()):
        cols = []
        for b, v in enumerate(agg.of):
            raw = mapped_sql(v, scope)[0]
            typed = typed_sql(v, raw, scope)
            col = f"_v{a}_{b}"
            selects += [f"{raw} AS {col}_raw", f"{typed} AS {col}"]
            cols.append(col)
            if v.type != "text":
                checks.append(
                    Check(
                        label(v),
                        f"{col}_raw IS NOT NULL AND {col} IS NULL",
                        f"'not a valid {v.type}: ' || {col}_raw || ' (lookup {name})'",
                        f"{col}_raw",
                    )
                )
        fns.append(f"{_fn_sql(agg, cols)} AS {q(agg_name)}")
    joins = _joins(spec, scope, index)
    key = f"nullif(trim(r.{q(lk.key)}), '')"
    cols_sql = ", ".join([f"{key} AS _k", *selects, "r._file AS _file", "r._row AS _row"])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _aggrows_{name} AS SELECT {cols_sql} FROM _in{i} r {joins}"
    )
    problems = split_bad_rows(
        con, f"_aggrows_{name}", checks, f"_aggbad_{name}", records_from=f"_rec{i}"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _agg_{name} AS
        SELECT _k, {", ".join(fns)} FROM _aggrows_{name} a
        WHERE _k IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM _aggbad_{name} b WHERE b._file = a._file AND b._row = a._row)
        GROUP BY _k""")
    return problems
