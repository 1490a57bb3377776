"""``cxloop outreach …``: find systemic failures, their cohorts, and tell them first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, export
from cxloop.cli.render import Format, emit_json, make_console, records, table

outreach_app = typer.Typer(
    no_args_is_help=True,
    help="Proactive outreach: systemic failures, affected cohorts, notices by e-mail/webhook.",
)
HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
IncidentArg = Annotated[str, typer.Argument(help="The incident id (from `outreach detect`).")]
TemplatesOpt = Annotated[
    Path | None, typer.Option("--templates", help="Notice templates (TOML); default built-in.")
]
INCIDENT_COLUMNS = ["incident_id", "detector", "value", "window_start", "n", "hits", "rate"]


@outreach_app.command()
def detect(
    home: HomeOpt = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="Default: the store's clock.")
    ] = None,
    detectors: Annotated[
        Path | None, typer.Option("--detectors", help="Detector specs (TOML); default built-in.")
    ] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Run the detectors (exact binomial test per group and window, BH-corrected)."""
    with client.open(home) as cx:
        found = cx.detect_incidents(as_of, detectors)
    rows = [
        {
            **{k: getattr(i, k) for k in INCIDENT_COLUMNS},
            "baseline_rate": i.baseline_rate,
            "q_value": i.q_value,
            "summary": i.summary,
            "method": i.method,
        }
        for i in found
    ]
    frame = pd.DataFrame(rows)
    if export(make_console(), fmt, dest, frame, rows):
        return
    if frame.empty:
        make_console().print("No systemic failure found.")
        return
    cols = [*INCIDENT_COLUMNS, "baseline_rate", "q_value"]
    table(
        make_console(), f"Systemic failures ({len(rows)})", frame, cols, ["rate", "baseline_rate"]
    )
    make_console().print(found[0].method, highlight=False)


@outreach_app.command()
def cohort(
    incident_id: IncidentArg,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Every affected customer-fact, whether they complained and left a low review."""
    with client.open(home) as cx:
        d = cx.draft_outreach(incident_id)
    when = d.incident.detected_at  # the cohort's figures are as of the detection
    as_of = when.isoformat() if when else None
    payload = {**d.summary(), "as_of": as_of, "cohort": records(d.cohort)}
    if export(make_console(), fmt, dest, d.cohort, payload):
        return
    out = make_console()
    out.print(
        d.incident.summary + (f" (as of {when:%Y-%m-%d %H:%M})" if when else ""), highlight=False
    )
    out.print(
        ", ".join(
            f"{k.replace('_', ' ')}: {v}" for k, v in d.summary().items() if isinstance(v, int)
        ),
        highlight=False,
    )
    cols = [
        "customer_id",
        "ref",
        "fact",
        "fact_value",
        "complained",
        "low_review",
        "could_reach_first",
    ]
    table(out, "Cohort", d.cohort, cols)


@outreach_app.command()
def preview(
    incident_id: IncidentArg,
    home: HomeOpt = None,
    templates: TemplatesOpt = None,
    show: Annotated[int, typer.Option("--show", help="Notices to print in full.")] = 2,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Draft the notices (nothing is sent)."""
    with client.open(home) as cx:
        d = cx.draft_outreach(incident_id, templates)
    if fmt is Format.JSON:
        emit_json(make_console(), {**d.summary(), "notices": [n.__dict__ for n in d.notices]})
        return
    out = make_console()
    out.print(d.summary(), highlight=False)
    for n in d.notices[:show]:
        out.rule(f"{n.customer_id} <{n.address or 'no e-mail address'}> key {n.key}")
        out.print(f"Subject: {n.subject}\n\n{n.body}", highlight=False, markup=False)


@outreach_app.command()
def send(
    incident_id: IncidentArg,
    channel: Annotated[str, typer.Option("--channel", help="email or webhook.")] = "email",
    home: HomeOpt = None,
    templates: TemplatesOpt = None,
    retry_uncertain: Annotated[
        bool,
        typer.Option("--retry-uncertain", help="Resend notices a crashed run may have sent."),
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Send at most this many.")] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Queue and deliver the incident's notices; a customer is never notified twice."""
    with client.open(home) as cx, Progress(console=make_console(stderr=True)) as bar:
        task = bar.add_task("sending", total=None)
        sent, report = cx.send_notices(  # an unknown channel fails before any work
            incident_id,
            channel,
            templates=templates,
            retry_uncertain=retry_uncertain,
            limit=limit,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    payload = {
        "incident_id": incident_id,
        "channel": channel,
        "queued_new": sent.queued,
        **report.as_dict(),
    }
    if fmt is Format.JSON:
        emit_json(make_console(), payload)
        return
    flat = {k: v for k, v in payload.items() if k != "errors"}
    table(make_console(), "Outreach", pd.DataFrame([flat]))
    for e in report.errors[:10]:
        make_console().print(f"{e[0]}: {e[1]}", highlight=False, markup=False)


@outreach_app.command()
def status(
    incident_id: Annotated[str | None, typer.Argument(help="Only this incident.")] = None,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Every recorded send: status (pending, sent, failed, uncertain), receipt, error."""
    with client.open(home) as cx:
        rows = cx.outreach_sends(incident_id)
    frame = pd.DataFrame(rows)
    if export(make_console(), fmt, dest, frame, rows):
        return
    if frame.empty:
        make_console().print("Nothing sent yet.")
        return
    cols = ["key", "channel", "address", "status", "attempts", "sent_at", "receipt", "error"]
    table(make_console(), f"Sends ({len(rows)})", frame, cols)
