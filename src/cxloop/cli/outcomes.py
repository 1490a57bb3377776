"""``cxloop outcomes …``: what happened to customers afterwards. Retention by cohort, repeat
purchase, lifecycle states, and the value of a kept promise; each figure lists the
customers behind it (``--customers``). Other outcome commands register on
:data:`outcomes_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console

outcomes_app = typer.Typer(
    no_args_is_help=True,
    help="Outcomes: retention, repeat purchase, lifecycle, the value of a kept promise.",
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
PeriodOpt = Annotated[str, typer.Option("--period", help="month or week.")]
ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="promise (the customer's first promise: kept, exceeded, broken ...), channel, "
        "department, or an attribute of the first purchase (region ...).",
    ),
]
SegmentOpt = Annotated[
    str | None, typer.Option("--segment", help="With --customers: only this group of --by.")
]
CustomersOpt = Annotated[
    bool, typer.Option("--customers", help="List the customers behind the figure instead.")
]


@outcomes_app.command()
def retention(
    home: HomeOpt = None,
    period: PeriodOpt = "month",
    by: ByOpt = None,
    cohorts: Annotated[
        bool, typer.Option("--cohorts", help="One row per cohort and offset (not pooled).")
    ] = False,
    customers: CustomersOpt = False,
    offset: Annotated[
        int | None, typer.Option("--offset", min=0, help="With --customers: periods after.")
    ] = None,
    cohort: Annotated[
        str | None, typer.Option("--cohort", help="With --customers: the cohort (2017-03).")
    ] = None,
    segment: SegmentOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Retention by first-purchase cohort: the share of customers (and revenue) active N
    periods after their first purchase, with 95% Wilson intervals."""
    console = make_console()
    with client.open(home) as cx:
        if customers:
            if offset is None:
                raise typer.BadParameter("name the figure with --offset", param_hint="--offset")
            df = cx.retention_customers(offset, period, by, cohort, segment)
            write_rows(console, df, fmt, out, title=f"Customers active at offset {offset}")
            return
        df = cx.retention(period, by, cohorts=cohorts)
    cols = ["segment", "cohort", "offset"] if cohorts else ["segment", "offset", "cohorts"]
    cols += ["cohort_customers", "customers", "rate", "low", "high", "revenue"]
    cols += ["revenue_per_customer"]
    write_rows(
        console,
        df,
        fmt,
        out,
        title=f"Retention by {period} of first purchase",
        columns=cols,
        percent=("rate", "low", "high"),
    )


@outcomes_app.command()
def repeat(
    home: HomeOpt = None,
    by: ByOpt = None,
    customers: CustomersOpt = False,
    segment: SegmentOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Repeat purchase: customers with a second visit (split orders merged), at any time
    and within each window of the first, with 95% Wilson intervals."""
    console = make_console()
    with client.open(home) as cx:
        if customers:
            df = cx.repeat_customers(by, segment)
            write_rows(console, df, fmt, out, title="Repeat customers")
            return
        df = cx.repeat_purchase(by)
    rates = [c for c in df.columns if c.startswith(("rate_", "low_", "high_"))]
    write_rows(
        console,
        df,
        fmt,
        out,
        title="Repeat purchase",
        columns=["segment", "customers", "repeaters", "repeat_rate", "low", "high", *rates],
        percent=("repeat_rate", "low", "high", *rates),
    )


@outcomes_app.command()
def lifecycle(
    home: HomeOpt = None,
    period: PeriodOpt = "month",
    by: ByOpt = None,
    customers: CustomersOpt = False,
    at: Annotated[
        str | None, typer.Option("--at", help="With --customers: the period (2017-03).")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="With --customers: new, returning, resurrecting, dormant."),
    ] = None,
    segment: SegmentOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Lifecycle per period: customers new, returning, resurrecting and dormant."""
    console = make_console()
    with client.open(home) as cx:
        if customers:
            if at is None or state is None:
                raise typer.BadParameter("name the figure with --at and --state", param_hint="--at")
            df = cx.lifecycle_customers(at, state, period, by, segment)
            write_rows(console, df, fmt, out, title=f"{state} customers in {at}")
            return
        df = cx.lifecycle(period, by)
    write_rows(console, df, fmt, out, title=f"Lifecycle by {period}")


_EFFECT_COLUMNS = [
    "outcome",
    "n",
    "n_treated",
    "left_out",
    "naive",
    "naive_low",
    "naive_high",
    "effect",
    "low",
    "high",
    "ratio",
    "e_value",
    "e_value_ci",
    "note",
]


@outcomes_app.command("promise-value")
def promise_value(
    home: HomeOpt = None,
    contrast: Annotated[
        str,
        typer.Option(
            "--contrast", help="broken (against kept or exceeded) or exceeded (against kept)."
        ),
    ] = "broken",
    seed: Annotated[int, typer.Option("--seed", help="The cross-fitting folds' seed.")] = 0,
    customers: CustomersOpt = False,
    window: Annotated[
        str | None, typer.Option("--window", help="With --customers: observed this long (90d).")
    ] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """The value of a kept promise: the doubly robust effect of a customer's first broken
    (or exceeded) promise on repeat purchase, revenue and review score, with 95%
    intervals and E-values, beside the naive difference."""
    console = make_console()
    with client.open(home) as cx:
        if customers:
            df = cx.promise_value_customers(contrast, window)
            write_rows(console, df, fmt, out, title=f"Customers in the {contrast} contrast")
            return
        result = cx.promise_value(contrast, seed).model_dump(exclude_unset=True)
    rows = pd.DataFrame(result["rows"])
    meta: dict[str, Any] = {k: v for k, v in result.items() if k != "rows"}
    if fmt is ReportFormat.TABLE and out is None:
        states = ", ".join(f"{k} {v:,}" for k, v in result["states"].items())
        console.print(
            f"First {result['promise_rule']} promise of {result['customers']:,} customers: "
            f"{states}. Treated: {'/'.join(result['treated'])}; reference: "
            f"{'/'.join(result['reference'])}.",
            highlight=False,
        )
    write_rows(
        console,
        rows,
        fmt,
        out,
        title=f"Effect of a first {contrast} promise (AIPW, cross-fitted)",
        columns=[c for c in _EFFECT_COLUMNS if c in rows.columns],
        meta=meta,
    )
