"""``cxloop ingest runs|revert`` and ``cxloop forget``: correcting the store.

``cxloop ingest`` is a group whose default command is ``load``: ``cxloop ingest PATH`` is
``cxloop ingest load PATH``, as it always was."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from typer.core import TyperGroup

from cxloop import client
from cxloop.cli.commands import refresh_behind
from cxloop.cli.render import Format, emit_json, make_console, table
from cxloop.library.edges import Operator

out = make_console()


class DefaultLoad(TyperGroup):
    """A group that runs ``load`` when its first word is not one of its commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own (vendored) click
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["load", *args]
        return super().parse_args(ctx, args)


ingest_app = typer.Typer(
    cls=DefaultLoad,
    no_args_is_help=True,
    help="Load events (`cxloop ingest PATH`), list the loads, take one back.",
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
ActorOpt = Annotated[
    str, typer.Option("--actor", envvar="CXLOOP_ACTOR", help="Who corrects (name or login).")
]
RoleOpt = Annotated[str, typer.Option("--role", envvar="CXLOOP_ROLE", help="Their role.")]
RUN_COLUMNS = [
    "ingest_id",
    "source",
    "started_at",
    "status",
    "rows_read",
    "events_new",
    "rows_quarantined",
    "retracted",
]


@ingest_app.command("runs")
def ingest_runs(home: HomeOpt = None, fmt: FormatOpt = Format.TABLE) -> None:
    """Every ingest run, oldest first, with its retraction if it was reverted."""
    with client.open(home) as cx:
        rows = cx.load_runs()
    if fmt is Format.JSON:
        emit_json(out, {"runs": rows})
        return
    if not rows:
        out.print("No ingest runs yet.")
        return
    df = pd.DataFrame(rows)
    df["retracted"] = [_retracted(r["retraction"]) for r in rows]
    table(out, "Ingest runs", df, RUN_COLUMNS)


def _retracted(r: dict[str, Any] | None) -> str:
    return "" if r is None else f"{r['at'][:16].replace('T', ' ')} by {r['actor']}"


@ingest_app.command("revert")
def ingest_revert(
    ingest_id: Annotated[str, typer.Argument(help="The run, as `cxloop ingest runs` lists it.")],
    actor: ActorOpt,
    role: RoleOpt = "operator",
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Take one load back: its events leave the log, its quarantine rows are marked
    retracted; the retraction is audited. The files then load again as new."""
    with client.open(home) as cx:
        done = cx.revert_ingest(ingest_id, Operator(actor, role))
        if cx.workspace.settings.refresh:  # the first page without the load, behind
            refresh_behind(cx.home, cx.workspace.settings.refresh_nice)
    if fmt is Format.JSON:
        emit_json(out, done)
        return
    out.print(
        f"Reverted ingest {ingest_id}: {done['events']:,} event(s) out of the log (now version "
        f"{done['log_version']}), {done['quarantine_rows']:,} quarantine row(s) marked "
        "retracted.",
        highlight=False,
    )
    if done["reload_with_force"]:
        out.print(
            "Later runs found events already in the log and may have held some of these "
            "(which ids a run found already loaded is not kept): "
            + ", ".join(done["reload_with_force"])
            + "; load their files again with --force to keep any they held (a load adds "
            "only what is missing).",
            highlight=False,
        )


def forget(
    customer_id: Annotated[str, typer.Argument(help="The customer to erase.")],
    actor: ActorOpt,
    role: RoleOpt = "operator",
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Erase a customer's personal data from the log, the state, the caches and the store's
    files; the erasure record keeps a random id and counts, nothing about the person."""
    with client.open(home) as cx:
        done = cx.forget(customer_id, Operator(actor, role))
        if cx.workspace.settings.refresh:  # forget deleted the first page's entries
            refresh_behind(cx.home, cx.workspace.settings.refresh_nice)
    if fmt is Format.JSON:
        emit_json(out, done)
        return
    counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in done["counts"].items())
    out.print(f"Erasure {done['erasure_id']}: {counts}.", highlight=False)
    if done["leftovers"]:
        out.print("Still named in: " + ", ".join(done["leftovers"]), highlight=False)
