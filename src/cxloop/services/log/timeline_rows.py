"""One page of a customer's timeline as JSON-ready records, straight from the point read's
Arrow table: what :func:`cxloop.library.data.records` makes of the timeline's DataFrame
(the same keys, values and order), without building the DataFrame.

A request for a timeline spent most of its CPU converting a few dozen rows Arrow ->
pandas (as Ibis converts a result) -> JSON text -> Python objects; here the rows go Arrow ->
Python objects once. Where the point read has no copy to read (PostgreSQL, Spark, a column
of an unexpected type) the DataFrame path answers, so the records never depend on which
path made them.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from cxloop.services.log.point_reads import (
    EVENT_SORT,
    customer_events_arrow,
    customer_events_small,
)
from cxloop.services.log.timeline import TIMELINE_COLUMNS, customer_timeline
from cxloop.workspace.workspace import Workspace

#: the columns that hold JSON text, parsed (as ``records`` parses them)
JSON_COLUMNS = ("attrs",)
#: ``DataFrame.to_json``'s default precision for floats (what ``records`` writes)
FLOAT_DIGITS = 10


def timeline_page(
    ws: Workspace, customer_id: str, limit: int | None = None, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """One page of the customer's events in time order as JSON-ready records, and how
    many events the customer has in all (0: none)."""
    table = customer_events_arrow(ws, customer_id)
    if table is not None and _plain(table.schema):
        return _page(table, limit, offset)
    df = customer_timeline(ws, customer_id)  # the DataFrame path: PostgreSQL, Spark
    end = None if limit is None else offset + limit
    return frame_records(df.iloc[offset:end][TIMELINE_COLUMNS]), len(df)


def small_timeline_page(
    ws: Workspace, customer_id: str, limit: int | None, offset: int, max_groups: int
) -> tuple[list[dict[str, Any]], int] | None:
    """:func:`timeline_page` where the customer's events lie in at most ``max_groups`` row
    groups of the copies (a read of a few milliseconds); None where it would take more."""
    table = customer_events_small(ws, customer_id, max_groups)
    if table is None or not _plain(table.schema):
        return None
    return _page(table, limit, offset)


def _page(table: pa.Table, limit: int | None, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = table.num_rows
    if offset >= total:
        return [], total
    mine = table.sort_by(EVENT_SORT).slice(offset, limit).select(TIMELINE_COLUMNS)
    return arrow_records(mine), total


def frame_records(
    df: pd.DataFrame, json_columns: tuple[str, ...] = JSON_COLUMNS
) -> list[dict[str, Any]]:
    """A DataFrame as JSON-safe records, with JSON text columns (attrs) parsed."""
    items = json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))
    for item in items:
        for col in json_columns:
            if col in item:
                item[col] = _parsed(item[col])
    return items  # type: ignore[no-any-return]


def _plain(schema: pa.Schema) -> bool:
    """Whether every column is of a type :func:`arrow_records` converts exactly like the
    DataFrame path (strings, numbers, timestamps without a time zone)."""
    for field in schema:
        t = field.type
        if pat.is_timestamp(t):
            if t.tz is not None:
                return False
        elif not (
            pat.is_string(t) or pat.is_large_string(t) or pat.is_floating(t) or pat.is_integer(t)
        ):
            return False
    return True


def arrow_records(table: pa.Table) -> list[dict[str, Any]]:
    """``table``'s rows as dicts: timestamps as ISO 8601 to the second, floats to
    ``FLOAT_DIGITS`` decimals (NaN as null), JSON text columns parsed where they parse."""
    columns: dict[str, list[Any]] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pat.is_timestamp(col.type):
            seconds = pc.floor_temporal(col, unit="second").cast(pa.timestamp("s"))
            values = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%S").to_pylist()
        elif pat.is_floating(col.type):
            values = [_number(v) for v in col.to_pylist()]
        else:
            values = col.to_pylist()
        if name in JSON_COLUMNS:
            values = [_parsed(v) for v in values]
        columns[name] = values
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, FLOAT_DIGITS)


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value
