"""``cxloop refresh``: compute what the brief and the dashboard's first page need now
(after ``cxloop ingest --no-refresh``, or from a scheduler). docs/refresh.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cxloop import client
from cxloop.cli.render import Format, emit_json, make_console

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]


def refresh(
    home: HomeOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    nice: Annotated[
        int,
        typer.Option(
            "--nice",
            min=0,
            max=19,
            help="Run this many steps below normal CPU priority (0-19; what an ingest's "
            "background refresh does, setting refresh_nice).",
        ),
    ] = 0,
) -> None:
    """Compute the brief and the dashboard's first page for the store as it is now (what
    is ready already is kept), so the next request finds them ready."""
    if nice:
        os.nice(nice)
    out, err = make_console(), make_console(stderr=True)
    with client.open(home) as cx:
        done = cx.refresh(asked=True, progress=None if fmt is Format.JSON else err.print)
    assert done is not None  # asked=True always refreshes
    if fmt is Format.JSON:
        emit_json(out, done.as_dict())
        return
    computed = ", ".join(f"{k} {v:.1f} s" for k, v in done.computed.items()) or "nothing"
    out.print(
        f"Log version {done.log_version}: computed {computed}; ready already: "
        f"{', '.join(done.reused) or 'nothing'} ({done.seconds:.1f} s in all"
        f"{f', at nice {os.nice(0)}' if nice else ''}).",
        highlight=False,
    )
    for name, why in done.failed.items():
        out.print(f"{name} failed (it is computed when asked): {why}", highlight=False)
