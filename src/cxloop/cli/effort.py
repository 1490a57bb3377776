"""``cxloop effort …``: effort per issue, its distributions, and the issues and customers
behind any figure (docs/effort.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console

effort_app = typer.Typer(
    no_args_is_help=True,
    help="Effort per issue, not per ticket: contacts grouped into issues across channels, "
    "waits, transfers, holds, repeats, reopens, one-touch; distributions and drill-down.",
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="department, channel, team or month (of the first contact)."),
]
ValueOpt = Annotated[
    str | None, typer.Option("--value", help="With --by: only the issues with this value.")
]
FlagOpt = Annotated[
    str | None,
    typer.Option(
        "--flag",
        help="Only the issues where this holds: repeat, reopened, transferred, one_touch, "
        "first_contact_resolution.",
    ),
]

SUMMARY_COLUMNS = [
    "issues",
    "customers",
    "contacts",
    "contacts_p90",
    "first_reply_hours_median",
    "first_reply_hours_p90",
    "elapsed_hours_median",
    "elapsed_hours_p90",
    "transfers",
    "repeat_rate",
    "reopened_rate",
    "one_touch_rate",
    "first_contact_resolution_rate",
]
ISSUE_COLUMNS = [
    "issue_id",
    "customer_id",
    "started_at",
    "channel",
    "contacts",
    "replies",
    "transfers",
    "first_reply_hours",
    "elapsed_hours",
    "wait_first_reply_hours",
    "wait_between_replies_hours",
    "wait_approval_hours",
    "customer_turn_hours",
]
RATES = ["repeat_rate", "reopened_rate", "one_touch_rate", "first_contact_resolution_rate"]


@effort_app.command()
def summary(
    by: ByOpt = None,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Effort distributions: issues, customers, contacts, waits (median, p90), transfers,
    repeat / reopen / one-touch / first-contact-resolution rates, by a dimension or overall."""
    with client.open(home) as cx:
        df = cx.effort(by)
    cols = [by or "all", *SUMMARY_COLUMNS]
    write_rows(make_console(), df, fmt, out, title="Effort per issue", columns=cols, percent=RATES)


@effort_app.command()
def issues(
    by: ByOpt = None,
    value: ValueOpt = None,
    flag: FlagOpt = None,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """One row per issue (all its figures); with --by/--value/--flag, the issues behind a
    figure of `cxloop effort summary` (as many as it counts)."""
    with client.open(home) as cx:
        df = cx.effort_issues(by, value, flag)
    write_rows(make_console(), df, fmt, out, title=f"Issues ({len(df):,})", columns=ISSUE_COLUMNS)


@effort_app.command()
def customers(
    by: ByOpt = None,
    value: ValueOpt = None,
    flag: FlagOpt = None,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """The customers behind a figure, with their issues, contacts, transfers and hours."""
    with client.open(home) as cx:
        df = cx.effort_customers(by, value, flag)
    write_rows(make_console(), df, fmt, out, title=f"Customers ({len(df):,})")
