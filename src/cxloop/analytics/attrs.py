"""Reading values out of an event's ``attrs`` JSON, portably."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def attr_text(attrs: ir.StringValue, key: str) -> ir.StringValue:
    """A text attribute (numbers and booleans come back as their text)."""
    value = attrs.cast("json")[key]
    return ibis.coalesce(value.str, value.float.cast("string"))


def attr_number(attrs: ir.StringValue, key: str) -> ir.FloatingValue:
    """A numeric attribute, whether stored as a JSON number or as text."""
    value = attrs.cast("json")[key]
    return ibis.coalesce(value.float, value.str.try_cast("float64"))
