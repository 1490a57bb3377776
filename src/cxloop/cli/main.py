"""The ``cxloop`` command line: thin commands over the library.

Every report command takes ``--format table|json``; errors print one line and
exit with status 1.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cxloop import client
from cxloop.cli import commands, outcomes_churn
from cxloop.cli.brief import brief_app
from cxloop.cli.cases import cases_app, recover
from cxloop.cli.corrections import forget, ingest_app
from cxloop.cli.effort import effort_app
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt
from cxloop.cli.funnels import funnel, paths
from cxloop.cli.journeys import journeys_app
from cxloop.cli.mappings import ParamOpt, mappings_app, parse_params
from cxloop.cli.migrate import migrate
from cxloop.cli.outcomes import outcomes_app
from cxloop.cli.outcomes_remedies import remedies
from cxloop.cli.outreach import outreach_app
from cxloop.cli.policy import policy_app
from cxloop.cli.refresh import refresh  # no cold starts (docs/refresh.md)
from cxloop.cli.render import Format, make_console
from cxloop.cli.rules_show import ShowFormat
from cxloop.cli.rules_show import rules_show as show_rules
from cxloop.cli.serve import keys_app, serve
from cxloop.cli.voice import voice_app
from cxloop.errors import CxloopError
from cxloop.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="cxloop: one customer timeline, the promise ledger, and what to do today.",
)
ledger_app = typer.Typer(no_args_is_help=True, help="Build or inspect the promise ledger.")
rules_app = typer.Typer(no_args_is_help=True, help="Show or check promise rules.")
app.add_typer(ledger_app, name="ledger")
app.add_typer(rules_app, name="rules")
app.add_typer(cases_app, name="cases")
app.add_typer(policy_app, name="policy")
app.add_typer(outreach_app, name="outreach")
app.add_typer(voice_app, name="voice")
app.add_typer(brief_app, name="brief")
app.add_typer(keys_app, name="keys")
app.add_typer(mappings_app, name="mappings")
app.add_typer(ingest_app, name="ingest")
app.add_typer(effort_app, name="effort")
app.add_typer(outcomes_app, name="outcomes")
outcomes_app.command("remedies")(remedies)
outcomes_churn.register(outcomes_app)
app.command()(forget)
app.command()(serve)
app.command()(recover)
app.command()(migrate)
app.command()(funnel)
app.command()(paths)
app.add_typer(journeys_app, name="journeys")
app.command()(refresh)  # no cold starts (docs/refresh.md)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
RulesOpt = Annotated[
    Path | None, typer.Option("--rules", envvar="CXLOOP_RULES", help="Promise rules file (TOML).")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]


@app.callback()
def options(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The store's clock for this command: a time (2018-10-22, "
            "2018-10-22T12:00:00Z), data or wall (default: CXLOOP_CLOCK, else data). Every "
            "action is stamped with it and every report is as of it.",
        ),
    ] = None,
) -> None:
    """cxloop: one customer timeline, the promise ledger, and what to do today."""
    if as_of is not None:
        use_clock(ctx, as_of)


def use_clock(ctx: typer.Context, value: str) -> None:
    """``CXLOOP_CLOCK`` for the rest of this command (every way a command opens the store
    reads it), restored when the command ends."""
    clock = Settings.from_env({"CXLOOP_CLOCK": value}).clock  # checked: a ConfigError if bad
    before = os.environ.get("CXLOOP_CLOCK")
    os.environ["CXLOOP_CLOCK"] = clock

    def restore() -> None:
        if before is None:
            os.environ.pop("CXLOOP_CLOCK", None)
        else:
            os.environ["CXLOOP_CLOCK"] = before

    ctx.call_on_close(restore)


def _open(home: Path | None, rules: Path | None = None) -> client.Cxloop:
    return client.open(home, rules=rules)


@ingest_app.command("load")
def ingest(
    path: Annotated[
        Path, typer.Argument(help="A file (CSV, JSON, JSONL, Parquet) or a directory.")
    ],
    source: Annotated[
        str,
        typer.Option(
            "--source", "-s", help="Built-in mapping (cxloop mappings list): generic, olist, ..."
        ),
    ] = "generic",
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", "-m", help="Your own mapping file (TOML, docs/mappings.md)."),
    ] = None,
    params: ParamOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Read files even if loaded unchanged before.")
    ] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="embedded (default: setting ingest_engine) or spark: the distributed "
            "ingest (generic mapping only).",
        ),
    ] = None,
    refresh: Annotated[
        bool | None,
        typer.Option(
            "--refresh/--no-refresh",
            help="Compute the brief and the dashboard's first page after the load (default: "
            "the refresh setting, on).",
        ),
    ] = None,
) -> None:
    """Load events through a mapping; bad rows go to the quarantine."""
    if engine is not None and engine not in ("embedded", "spark"):
        raise typer.BadParameter("expected embedded or spark", param_hint="--engine")
    commands.ingest(
        _open(home),
        path,
        source,
        force,
        fmt,
        mapping,
        parse_params(params),
        engine,
        refresh=refresh,
    )


@app.command()
def quarantine(
    home: HomeOpt = None,
    all_loads: Annotated[
        bool, typer.Option("--all", help="Include earlier loads of each file.")
    ] = False,
    file: Annotated[str | None, typer.Option("--file", help="Only this file.")] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """List quarantined rows: file, row, field and reason."""
    commands.quarantine(_open(home), all_loads, file, fmt, dest)


@app.command()
def timeline(
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """One customer's events from every department, in time order."""
    commands.timeline(_open(home), customer_id, fmt, dest)


@app.command()
def promises(
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Group by kind, rule, department, state or month (repeatable)."),
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="List one customer's promises.")
    ] = None,
    home: HomeOpt = None,
    rules: RulesOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
    customers: Annotated[
        str | None,
        typer.Option(
            "--customers",
            help="List the promises (and customers) behind one figure of the report: total, "
            "open, at_risk, kept, exceeded, broken, broken_late, ..., in the group --where.",
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="With --customers: the report's group, DIM=VALUE "
            "(department=billing, month=2018-03; repeatable).",
        ),
    ] = None,
) -> None:
    """Promise counts and rates (kept, exceeded, broken, at risk), one customer's promises,
    or the promises behind one figure (--customers)."""
    cx = _open(home, rules)
    if customers:
        commands.promise_customers(cx, customers, where or [], fmt, dest)
    elif customer:
        commands.customer_promises(cx, customer, fmt, dest)
    else:
        commands.promise_report(cx, by or ["kind", "state", "department", "month"], fmt, dest)


@app.command()
def baselines(
    customer: Annotated[str | None, typer.Option("--customer", help="Only this customer.")] = None,
    home: HomeOpt = None,
    rules: RulesOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """What each customer has come to expect (their usual fulfilment times)."""
    commands.baselines(_open(home, rules), customer, fmt, dest)


@ledger_app.command("build")
def ledger_build(
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            help="Judge promises as of this time, once (default: the store's clock; the next "
            "report rebuilds as of the clock: to keep a time, use cxloop --as-of TIME).",
        ),
    ] = None,
    home: HomeOpt = None,
    rules: RulesOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Rebuild the promise ledger from the whole event log."""
    commands.ledger_build(_open(home, rules), as_of, fmt)


@ledger_app.command("status")
def ledger_status(
    home: HomeOpt = None, rules: RulesOpt = None, fmt: FormatOpt = Format.TABLE
) -> None:
    """When the ledger was built, from which log version, and whether it is stale."""
    commands.ledger_status(_open(home, rules), fmt)


@rules_app.command("check")
def rules_check(
    file: Annotated[Path | None, typer.Argument(help="Rules file (default: built-in).")] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Validate a promise rules file and list its rules."""
    commands.rules_check(file, fmt)


@rules_app.command("show")
def rules_show(
    rules: RulesOpt = None,
    fmt: Annotated[
        ShowFormat, typer.Option("--format", "-f", help="toml (the file), table or json.")
    ] = ShowFormat.TOML,
) -> None:
    """Print the promise rules in effect (--rules / CXLOOP_RULES, else the built-in ones)."""
    show_rules(rules, fmt)


@app.command("export")
def export_log(
    out: Annotated[Path, typer.Argument(help="Directory to write (events.parquet + manifest).")],
    home: HomeOpt = None,
    output: Annotated[str, typer.Option("--format", help="Export format: parquet.")] = "parquet",
    fmt: Annotated[Format, typer.Option("--report", help="table or json.")] = Format.TABLE,
) -> None:
    """Write the whole event log with its row count and content checksum."""
    commands.export_log(home, out, output, fmt)


@app.command("import")
def import_log(
    path: Annotated[Path, typer.Argument(help="An export directory (or its Parquet file).")],
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Append an export's events to this store, checked against its manifest before and
    after (row count and content checksum); idempotent."""
    commands.import_log(home, path, fmt)


@app.command()
def compact(home: HomeOpt = None, fmt: FormatOpt = Format.TABLE) -> None:
    """Rewrite the event log as one segment (same rows, sorted by event type, customer and time)."""
    commands.compact(home, fmt)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where to write the demo data and store.")] = Path(
        "var/demo"
    ),
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 1500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Then serve the API and dashboard (with a fresh admin key for the demo).",
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.", min=1, max=65535)] = 8000,
) -> None:
    """Generate the demo company, ingest it, build the ledger and print the summary."""
    commands.demo(workdir, customers, seed, serve, port)


def main() -> None:
    console = make_console(stderr=True)
    try:
        app(standalone_mode=False)
    except CxloopError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # usage errors (typer's bundled click) carry their own exit code
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
