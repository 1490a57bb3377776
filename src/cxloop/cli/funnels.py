"""``cxloop funnel`` and ``cxloop paths``: conversion through steps, the customers who
dropped at each, where they went next, and the commonest sequences of events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console

if TYPE_CHECKING:
    from cxloop import FunnelResult

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
StepsOpt = Annotated[
    int, typer.Option("--steps", min=1, max=10, help="How many events each path shows.")
]
TopOpt = Annotated[int, typer.Option("--top", min=1, help="How many paths to list.")]

STEP_HELP = (
    'A step, in order (repeatable): "[NAME:] EVENT_TYPE [where KEY OP VALUE [and ...]] '
    '[within DURATION] [optional]", e.g. --step order_placed --step "delivered: '
    "order_delivered where region=SP within 30d\". Default: the --file's steps, else the "
    "built-in funnel (placed, paid, shipped, delivered, reviewed)."
)


def funnel(
    step: Annotated[list[str] | None, typer.Option("--step", "-s", help=STEP_HELP)] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A funnel file (TOML, docs/funnels.md).")
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(
            "--order", help="ordered (default), strict (nothing in between) or unordered."
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option("--window", help="Every step within this of the first (e.g. 30d, 12h)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="An event that removes the attempt when it comes between two steps (repeatable): "
            '"EVENT [where ...] [between STEP and STEP]" (default: first and last step).',
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Break down by an attribute (or channel, department) of the first step's event.",
        ),
    ] = None,
    conversion_from: Annotated[
        str | None, typer.Option("--from", help="Conversion from the first or the previous step.")
    ] = None,
    dropped: Annotated[
        str | None,
        typer.Option(
            "--dropped", help="List the customers who dropped at this step (name or number)."
        ),
    ] = None,
    next_step: Annotated[
        str | None,
        typer.Option("--next", help="Where the customers who dropped at this step went next."),
    ] = None,
    converted: Annotated[
        bool, typer.Option("--converted", help="List the customers who completed the funnel.")
    ] = False,
    time: Annotated[
        bool, typer.Option("--time", help="The time-to-convert histogram instead of the steps.")
    ] = False,
    steps: StepsOpt = 3,
    top: TopOpt = 10,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Conversion through steps: customers, conversion and drop per step (per breakdown
    value), time to convert; --dropped lists the customers behind a step's drop."""
    console = make_console()
    with client.open(home) as cx:
        result = cx.funnel(
            step,
            file=file,
            order=order,
            window=window,
            exclude=exclude,
            by=by,
            conversion_from=conversion_from,
        )
        df, title, percent = _chosen(cx, result, dropped, next_step, converted, time, steps, top)
        cols = [c for c in df.columns if not c.startswith("conversion_from")]
        meta = result.summary()
        write_rows(console, df, fmt, out, title=title, columns=cols, percent=percent, meta=meta)


def _chosen(
    cx: client.Cxloop, result: FunnelResult, dropped: str | None, next_step: str | None,
    converted: bool, time: bool, steps: int, top: int,
) -> tuple[pd.DataFrame, str, list[str]]:  # fmt: skip
    """The rows the options ask for, their title and which columns are shares."""
    if dropped is not None:
        return cx.funnel_dropped(result, dropped), f"dropped at {dropped}", []
    if next_step is not None:
        df = cx.funnel_next(result, next_step, steps, top)
        title = f"where those who dropped at {next_step} went next ({df.attrs['total']:,})"
        return df, title, ["share"]
    if converted:
        return cx.funnel_converted(result), "converted", []
    if time:
        t = result.time_to_convert
        title = f"hours to convert: {t['converted']:,} customers, median {_hours(t['median'])}"
        return result.histogram, f"{title}, p90 {_hours(t['p90'])}", []
    return result.steps, _title(result.time_to_convert), ["conversion"]


def _title(t: dict[str, object]) -> str:
    if not t["converted"]:
        return "funnel (nobody converted)"
    done = f"{t['converted']:,} converted"
    return f"funnel: {done}, median {_hours(t['median'])} h to convert (p90 {_hours(t['p90'])} h)"


def _hours(value: object) -> str:
    """Hours as a person reads them: one decimal (two under ten hours)."""
    if not isinstance(value, int | float):
        return str(value)
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def paths(
    after: Annotated[
        str | None, typer.Option("--after", help="Paths after each customer's first such step.")
    ] = None,
    before: Annotated[
        str | None,
        typer.Option("--before", help="Paths leading to each customer's first such step."),
    ] = None,
    between: Annotated[
        tuple[str, str] | None,
        typer.Option("--between", help="Paths from the first A to the next B: --between A B."),
    ] = None,
    steps: StepsOpt = 3,
    top: TopOpt = 10,
    customers: Annotated[
        int | None,
        typer.Option("--customers", min=1, help="List the customers on the path of this rank."),
    ] = None,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """The commonest sequences of event types after, before or between steps (a step as
    in ``cxloop funnel --step``), with the share of customers on each."""
    console = make_console()
    with client.open(home) as cx:
        if customers is not None:
            df = cx.path_customers(
                customers, after=after, before=before, between=between, steps=steps
            )
            write_rows(console, df, fmt, out, title=f"customers on path {customers}")
            return
        df = cx.paths(after=after, before=before, between=between, steps=steps, top=top)
        title = f"paths ({df.attrs['total']:,} customers)"
        write_rows(
            console,
            df,
            fmt,
            out,
            title=title,
            percent=["share"],
            meta={"customers": df.attrs["total"]},
        )
