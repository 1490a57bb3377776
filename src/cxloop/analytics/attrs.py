"""Reading values out of an event's ``attrs`` JSON, portably.

Each engine's own JSON functions differ in name and in how Ibis compiles them (on Spark,
Ibis unwraps JSON through a Python UDF that fails on plain values), so the analytics call
one function, ``cx_attr(attrs, key)`` (the value under ``key`` as text, numbers as their
JSON text, NULL when absent), and each engine defines it natively when cxloop connects to
it: on DuckDB a macro over ``json_extract_string`` (``Workspace.configure``); on Spark a SQL
function over ``get_json_object``; on PostgreSQL one over ``json_extract_path_text``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="cx_attr")  # type: ignore[untyped-decorator]
def _cx_attr(attrs: str, key: str) -> str:  # type: ignore[empty-body]
    """The engine's own ``cx_attr`` (see the module docstring)."""


def attr_text(attrs: ir.StringValue, key: str) -> ir.StringValue:
    """A text attribute (numbers and booleans come back as their JSON text)."""
    result: ir.StringValue = _cx_attr(attrs, key)
    return result


def attr_number(attrs: ir.StringValue, key: str) -> ir.FloatingValue:
    """A numeric attribute, whether stored as a JSON number or as text."""
    result: ir.FloatingValue = _cx_attr(attrs, key).try_cast("float64")
    return result
