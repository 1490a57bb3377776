"""``cxloop migrate``: bring the store's operational state to this cxloop's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.render import Format, emit_json, make_console
from cxloop.library import edges
from cxloop.settings import Settings


def migrate(
    status: Annotated[
        bool,
        typer.Option("--status", help="Show the current and the head revision; change nothing."),
    ] = False,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
) -> None:
    """Apply the schema migrations to the store's state (CXLOOP_DATABASE_URL, else
    HOME/state.sqlite); --status only reports."""
    settings = Settings.from_env(None, home=home)
    where = edges.migration_where(settings)
    out = make_console()
    if status:
        current = edges.current_revision(settings)
        if fmt is Format.JSON:
            emit_json(out, {**where, "current": current, "up_to_date": current == where["head"]})
            return
        out.print(f"store:   {where['store']} ({where['backend']})", highlight=False)
        out.print(f"current: {current or '(none: not migrated)'}", highlight=False)
        out.print(f"head:    {where['head']}", highlight=False)
        return
    before, after = edges.migrate_state(settings)
    if fmt is Format.JSON:
        emit_json(out, {**where, "from": before, "to": after, "changed": before != after})
        return
    if before == after:
        out.print(f"{where['store']}: already at {after}; nothing to do.", highlight=False)
    else:
        out.print(f"{where['store']}: {before or '(none)'} -> {after}", highlight=False)
