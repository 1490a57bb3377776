"""``cxloop journeys …``: the journey map, one customer's path, the scores by stage, where
it tanks, and the customers behind each figure (docs/journeys.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console

journeys_app = typer.Typer(
    no_args_is_help=True,
    help="Journeys: stages from the log (purchase, delivery, support, review, repurchase by "
    "default), each customer's path, scores and words by stage, where it tanks.",
)
HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
MAP_PERCENT = ["share_of_first", "drop_rate", "low_score_share", "negative_share", "positive_share"]


@journeys_app.command("map")
def journey_map(
    home: HomeOpt = None,
    voice: Annotated[
        bool, typer.Option("--voice", help="Add texts, sentiment and keywords per stage.")
    ] = False,
    sentiment: Annotated[
        str, typer.Option("--sentiment", help="auto, learned or lexicon (with --voice).")
    ] = "auto",
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Per stage: customers reaching it, median time from the stage it follows, drop-offs,
    scores (0-100 and low share); with --voice, what was said there."""
    with client.open(home) as cx:
        df = cx.journey_map(cx.voice(sentiment=sentiment) if voice else None)
    if "keywords" in df:
        df["keywords"] = df["keywords"].map(lambda w: ", ".join(w) if isinstance(w, list) else "")
    write_rows(make_console(), df, fmt, out, title="Journey map", percent=MAP_PERCENT)


@journeys_app.command("path")
def path(
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """One customer's stages in the order entered, with the hours from the stage each follows."""
    with client.open(home) as cx:
        df = cx.journey_path(customer_id)
    write_rows(make_console(), df, fmt, out, title=f"Journey of {customer_id}")


@journeys_app.command("scores")
def scores(
    home: HomeOpt = None, fmt: ReportFormatOpt = ReportFormat.TABLE, out: OutOpt = None
) -> None:
    """Per stage and metric (CSAT, CES, NPS, review stars): answers, mean, low share."""
    with client.open(home) as cx:
        df = cx.journey_scores()
    write_rows(make_console(), df, fmt, out, title="Scores by stage", percent=["low_share"])


@journeys_app.command("tanks")
def tanks(
    home: HomeOpt = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="drop or 'low score' (default both).")
    ] = None,
    fdr: Annotated[float, typer.Option("--fdr", help="False discovery rate.")] = 0.05,
    all_rows: Annotated[
        bool, typer.Option("--all", help="Every tested factor, not only the significant.")
    ] = False,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Where it tanks: per stage, the events and attributes that go with dropping off or a
    low score (odds ratio and difference with 95% intervals, BH q-values)."""
    with client.open(home) as cx:
        df = cx.journey_tanks(outcome, fdr)
    if not all_rows:
        df = df[df["significant"].astype(bool)].reset_index(drop=True)
    cols = None
    if fmt is ReportFormat.TABLE and out is None:
        cols = [
            "stage", "outcome", "factor", "with_factor", "with_factor_and_outcome",
            "rate_with", "rate_without", "odds_ratio", "or_low", "or_high", "q_value",
        ]  # fmt: skip
    write_rows(
        make_console(),
        df,
        fmt,
        out,
        title="Where it tanks",
        columns=cols,
        percent=["rate_with", "rate_without"],
    )


@journeys_app.command("customers")
def customers(
    stage: Annotated[str, typer.Argument(help="The stage.")],
    home: HomeOpt = None,
    which: Annotated[
        str, typer.Option("--which", help="reached, dropped or 'low score'.")
    ] = "reached",
    factor: Annotated[
        str | None,
        typer.Option("--factor", help="Only those with this factor (a 'tanks' finding)."),
    ] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """The customers behind a figure: the map's customers / dropped at a stage, or a
    finding's with_factor_and_outcome (--which dropped --factor 'delivery: late')."""
    with client.open(home) as cx:
        df: pd.DataFrame = cx.journey_customers(stage, which, factor)
    title = f"{len(df):,} customers: {which} at {stage}" + (f" with {factor}" if factor else "")
    write_rows(make_console(), df, fmt, out, title=title)
