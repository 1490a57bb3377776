"""``cxloop outcomes remedies``: which remedies won customers back.

The command is a plain function, :func:`remedies`, registered on the ``outcomes`` group
of ``cli/outcomes.py`` by ``cli/main.py``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]


class Group(StrEnum):
    TREATED = "treated"
    CONTROL = "control"


PERCENT = ("rate_treated", "rate_control", "naive", "uplift", "low", "high")
COLUMNS = (
    "kind",
    "remedy",
    "band",
    "policy_limit",
    "n_treated",
    "n_control",
    "rate_treated",
    "rate_control",
    "naive",
    "uplift",
    "low",
    "high",
    "note",
)


def remedies(
    home: HomeOpt = None,
    horizon: Annotated[
        int | None,
        typer.Option("--horizon", help="Days after the failure (default: the first, 90)."),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Failure kind (the broken promise's kind).")
    ] = None,
    remedy: Annotated[
        str | None,
        typer.Option("--remedy", help="With --customers or --qini: the remedy (credit, ...)."),
    ] = None,
    band: Annotated[
        str, typer.Option("--band", help="With --customers: the amount band (e.g. 0-25).")
    ] = "any",
    customers: Annotated[
        bool, typer.Option("--customers", help="List the failures behind one figure.")
    ] = False,
    group: Annotated[
        Group, typer.Option("--group", help="With --customers: treated or control.")
    ] = Group.TREATED,
    qini: Annotated[
        bool, typer.Option("--qini", help="The Qini curve of ranking who benefits.")
    ] = False,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Uplift on retention per failure kind, remedy and amount band (cut at the policy's
    limits) against comparable failures that got nothing, with 95% intervals."""
    console = make_console()
    if (customers or qini) and not (kind and remedy):
        raise typer.BadParameter("--customers and --qini need --kind and --remedy")
    with client.open(home) as cx:
        if customers:
            df = cx.remedies_customers(kind or "", remedy or "", band, horizon, group.value)
            title = f"{group.value} failures: {kind}, {remedy} {band}"
            write_rows(console, df, fmt, out, title=title, meta={"n": len(df)})
            return
        if qini:
            found = cx.remedies_qini(kind or "", remedy or "", horizon).model_dump()
            curve = pd.DataFrame({"share": found["share"], "gain": found["gain"]})
            meta = {k: v for k, v in found.items() if k not in ("share", "gain")}
            write_rows(console, curve, fmt, out, title=_qini_title(meta), meta=meta)
            return
        table = cx.remedies_uplift(horizon, kind)
        reading = cx.remedies_reading(table)
        h = int(table.horizon_days.iloc[0]) if len(table) else cx.remedies_horizon(horizon)
    meta = {"horizon_days": h, "policy_reading": reading}
    title = f"remedies: retained within {h} days vs got nothing"
    write_rows(console, table, fmt, out, title=title, columns=COLUMNS, percent=PERCENT, meta=meta)
    if fmt is ReportFormat.TABLE and out is None:
        for line in reading or ["No failure got a money remedy: nothing to say about the limits."]:
            console.print(line, highlight=False)


def _qini_title(meta: dict[str, object]) -> str:
    if meta.get("note"):
        return f"Qini: {meta['note']}"
    what = f"{meta['remedy']} on {meta['kind']} failures"
    return f"Qini of {what}: coefficient {meta['coefficient']:.4f}"
