"""The promises behind one figure of the promise report (a drill-down).

The promise report (:mod:`cxloop.analytics.reports`) counts promises per group; a cell is a
figure (``broken``, ``broken_late``, ``below_baseline``, ...) in one group (``department =
billing``). :func:`promise_cell` keeps the ledger rows that cell counts, so the number of
rows equals the figure and each row names its customer. Ibis, so it runs on every engine.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis.expr.types as ir

from cxloop.analytics.reports import DIMENSIONS, dimension
from cxloop.domain.promises import BrokenReason, PromiseState
from cxloop.errors import ConfigError

#: the count figures of the promise report a drill-down can list
FIGURES = (
    "total",
    *(s.value for s in PromiseState),
    *(f"broken_{r.value}" for r in BrokenReason),
    "below_baseline",
    "broken_flagged_before",
)

#: the columns of a drill-down row: the customer first, then what places it in the cell
CELL_COLUMNS = (
    "customer_id",
    "promise_id",
    "kind",
    "rule",
    "department",
    "ref",
    "state",
    "broken_reason",
    "opened_at",
    "due_at",
    "fulfilled_at",
    "at_risk_at",
    "below_baseline",
)


def _figure(t: ir.Table, figure: str) -> ir.BooleanValue:
    if figure == "total":
        return t.promise_id.notnull()
    if figure in {s.value for s in PromiseState}:
        return t.state == figure
    if figure.startswith("broken_") and figure[7:] in {r.value for r in BrokenReason}:
        return (t.broken_reason == figure[7:]).fill_null(False)
    if figure == "below_baseline":
        return t.below_baseline.fill_null(False)
    if figure == "broken_flagged_before":
        return (t.state == PromiseState.BROKEN.value) & t.at_risk_at.notnull()
    raise ConfigError(f"figure {figure!r}: expected one of {', '.join(FIGURES)}")


def promise_cell(t: ir.Table, figure: str, where: Mapping[str, str | None]) -> ir.Table:
    """The ledger rows counted by ``figure`` in the group ``where`` (dimension -> value; a
    value of None is the group of promises without one, like a month without a due date)."""
    keep = _figure(t, figure)
    for by, value in where.items():
        if by not in DIMENSIONS:
            raise ConfigError(f"{by}={value}: expected one of {', '.join(DIMENSIONS)}")
        dim = dimension(t, by)
        keep &= dim.isnull() if value is None else (dim == value).fill_null(False)
    return t.filter(keep).select(*CELL_COLUMNS).order_by(["customer_id", "promise_id"])


__all__ = ["CELL_COLUMNS", "FIGURES", "promise_cell"]
