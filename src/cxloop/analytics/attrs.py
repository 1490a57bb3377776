"""Reading values out of an event's ``attrs`` JSON, portably.

Each engine's own JSON functions differ in name and in how Ibis compiles them (on Spark,
Ibis unwraps JSON through a Python UDF that fails on plain values), so the analytics call
one function, ``cx_attr(attrs, key)`` (the value under ``key`` as text, numbers as their
JSON text, NULL when absent), and each engine defines it natively when cxloop connects to
it: on DuckDB a macro over ``json_extract_string`` (``Workspace.configure``); on Spark a SQL
function over ``get_json_object``; on PostgreSQL one over ``jsonb ->>`` (created by the
migrations).

Numbers and times are read through ``cx_attr_number`` and ``cx_attr_time``, which give
NULL for a value that is not one, on every engine: Ibis compiles ``try_cast`` to a plain
``CAST`` on PostgreSQL, where one malformed attribute would abort the whole query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="cx_attr")  # type: ignore[untyped-decorator]
def _cx_attr(attrs: str, key: str) -> str:  # type: ignore[empty-body]
    """The engine's own ``cx_attr`` (see the module docstring)."""


@ibis.udf.scalar.builtin(name="cx_attr_number")  # type: ignore[untyped-decorator]
def _cx_attr_number(attrs: str, key: str) -> float:  # type: ignore[empty-body]
    """The engine's own ``cx_attr_number``: the value as a double, NULL when not a number."""


@ibis.udf.scalar.builtin(name="cx_attr_time")  # type: ignore[untyped-decorator]
def _cx_attr_time(attrs: str, key: str) -> datetime:  # type: ignore[empty-body]
    """The engine's own ``cx_attr_time``: the value as a timestamp, NULL when not a time."""


@ibis.udf.scalar.builtin(name="json_extract_string")  # type: ignore[untyped-decorator]
def _json_paths(attrs: str, paths: list[str]) -> list[str]:  # type: ignore[empty-body]
    """DuckDB's ``json_extract_string`` of several paths: the JSON is parsed once."""


def attr_texts(attrs: ir.StringValue, keys: Sequence[str], engine: str) -> list[ir.StringValue]:
    """Several text attributes, the values :func:`attr_text` gives; on DuckDB from one
    parse of the JSON (``cx_attr``'s path, several at once) instead of one per key."""
    if engine != "duckdb" or len(keys) < 2:
        return [attr_text(attrs, k) for k in keys]
    paths = ibis.literal(['$."' + k + '"' for k in keys], type="array<string>")
    many = _json_paths(attrs, paths)
    return [many[i] for i in range(len(keys))]


def attr_text(attrs: ir.StringValue, key: str) -> ir.StringValue:
    """A text attribute (numbers and booleans come back as their JSON text)."""
    result: ir.StringValue = _cx_attr(attrs, key)
    return result


def attr_number(attrs: ir.StringValue, key: str) -> ir.FloatingValue:
    """A numeric attribute, whether stored as a JSON number or as text."""
    result: ir.FloatingValue = _cx_attr_number(attrs, key)
    return result


def attr_time(attrs: ir.StringValue, key: str) -> ir.TimestampValue:
    """A time attribute (ISO 8601, no offset: cxloop's times are UTC), NULL when not one."""
    result: ir.TimestampValue = _cx_attr_time(attrs, key)
    return result
