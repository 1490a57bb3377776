"""Turning results into what a person or a program reads: Rich tables or JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from cxloop.serialize import clean, records

__all__ = ["clean", "records"]


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def emit_json(console: Console, payload: Any) -> None:
    console.out(json.dumps(clean(payload), indent=2, ensure_ascii=False), highlight=False)


def fmt(value: Any) -> str:
    value = clean(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str) and "T" in value and len(value) >= 19 and value[4] == "-":
        return value[:16].replace("T", " ")
    return str(value)


#: Shorter headers for wide report tables (JSON keeps the full names).
LABELS = {
    "at_risk": "at risk",
    "kept_rate": "kept %",
    "exceeded_rate": "exceeded %",
    "broken_rate": "broken %",
    "below_baseline": "slower than usual",
    "broken_flagged_before": "warned before break",
    "late_hours_median": "median h late",
    "late_hours_max": "max h late",
    "broken_late": "late",
    "broken_never_fulfilled": "never fulfilled",
    "broken_canceled": "canceled overdue",
    "duration_hours": "took h",
    "baseline_hours": "usual h",
    "at_risk_reason": "risk",
    "at_risk_at": "at risk since",
    "fulfilled_at": "fulfilled",
    "opened_at": "opened",
    "due_at": "due",
}


#: The columns of a promise report table, and which of them are rates (shown as %).
PROMISE_REPORT_COLUMNS = (
    "total",
    "open",
    "at_risk",
    "kept",
    "exceeded",
    "broken",
    "broken_late",
    "broken_never_fulfilled",
    "broken_canceled",
    "cancelled",
    "kept_rate",
    "below_baseline",
    "broken_flagged_before",
    "late_hours_median",
)
RATE_COLUMNS = ("kept_rate", "exceeded_rate", "broken_rate")
#: ``voice compare``: each side's volume and negativity, and the verdict.
COMPARE_COLUMNS = (
    "title",
    "customers_texts",
    "customers_negative_share",
    "employees_texts",
    "employees_negative_share",
    "verdict",
)
COMPARE_PERCENT = ("customers_negative_share", "employees_negative_share")

#: Integer columns that are identifiers or positions, printed without thousands separators.
PLAIN_NUMBERS = frozenset({"row", "source_row", "log_version"})


def make_console(stderr: bool = False) -> Console:
    """A console as wide as the terminal, or 160 columns when output is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(stderr=stderr, width=width)


def table(
    console: Console,
    title: str,
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    percent: Iterable[str] = (),
    money: Mapping[str, int] | None = None,
) -> None:
    """``money``: columns of amounts, each with its minor digits (domain.money)."""
    cols = list(columns or df.columns)
    pct = set(percent)
    minor = dict(money or {})
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in cols:
        numeric = c in df and pd.api.types.is_numeric_dtype(df[c])
        t.add_column(LABELS.get(c, c), justify="right" if numeric else "left", overflow="fold")
    for row in df[cols].itertuples(index=False):
        t.add_row(
            *[
                (
                    f"{v:.1%}"
                    if c in pct and v is not None and not pd.isna(v)
                    else str(v)
                    if c in PLAIN_NUMBERS
                    else f"{v:,.{minor[c]}f}"
                    if c in minor and isinstance(v, int | float) and not pd.isna(v)
                    else fmt(v)
                )
                for c, v in zip(cols, row, strict=True)
            ]
        )
    console.print(t)
