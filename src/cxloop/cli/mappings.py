"""``cxloop mappings``: list, show and check mappings (built in, or your own TOML file).

Errors (CxloopError) propagate to ``cxloop.cli.main.main``, which prints one line (the
mapping file, the key and the problem) and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cxloop.cli.render import Format, emit_json, make_console, table
from cxloop.errors import InputError
from cxloop.ingest.mapfile.engine import FileMapping
from cxloop.library.edges import preview_mapping, resolve_mapping
from cxloop.settings import Settings

mappings_app = typer.Typer(
    no_args_is_help=True,
    help="List, show or check mappings: how an export's columns become events (TOML files).",
)
out = make_console()
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A mapping parameter, NAME=VALUE (repeatable)."),
]
SHOWN_PROBLEMS = 20


def parse_params(items: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param {item!r}: expected NAME=VALUE")
        params[name.strip()] = value
    return params


@mappings_app.command("list")
def list_mappings(fmt: FormatOpt = Format.TABLE) -> None:
    """The built-in mappings (use one with ``cxloop ingest PATH --source NAME``)."""
    from cxloop.ingest.mappings import BUILTIN_FILES, MAPPINGS

    rows = [
        {
            "name": name,
            "kind": "file" if name in BUILTIN_FILES else "code",
            "description": " ".join(m.description.split()),
        }
        for name, m in sorted(MAPPINGS.items())
    ]
    if fmt is Format.JSON:
        emit_json(out, rows)
        return
    table(out, "Mappings", pd.DataFrame(rows))


@mappings_app.command("show")
def show(name: Annotated[str, typer.Argument(help="A built-in mapping's name.")]) -> None:
    """Print a built-in mapping file (a starting point for your own)."""
    from cxloop.ingest.mappings import BUILTIN_FILES, MAPPINGS

    if name in BUILTIN_FILES:
        out.print(BUILTIN_FILES[name], markup=False, highlight=False, end="")
        return
    if name in MAPPINGS:
        out.print(
            f"# {name} is built into cxloop as code, not a mapping file.\n# "
            + " ".join(MAPPINGS[name].description.split()),
            markup=False,
            highlight=False,
        )
        return
    raise InputError(f"unknown mapping {name!r}; available: {', '.join(sorted(MAPPINGS))}")


@mappings_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A mapping file (TOML).")],
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="Map this file or directory too, without loading it."),
    ] = None,
    params: ParamOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Validate a mapping file; with --sample, map a file and report events and bad rows."""
    mapping = resolve_mapping(mapping=file, params=parse_params(params) or None)
    assert isinstance(mapping, FileMapping)
    result: dict[str, object] = {
        "file": str(file),
        "name": mapping.name,
        "inputs": list(mapping.spec.inputs),
        "events": [e.name for e in mapping.spec.events],
    }
    if sample is not None:
        result |= preview_mapping(mapping, sample, Settings.from_env())
    if fmt is Format.JSON:
        emit_json(out, result)
        return
    out.print(
        f"{file}: mapping {mapping.name} is valid ({len(mapping.spec.events)} event "
        f"table(s) over input(s) {', '.join(mapping.spec.inputs)}).",
        highlight=False,
    )
    if sample is None:
        return
    repeated = int(str(result["events_duplicate"]))
    out.print(
        f"{sample}: {result['rows_read']:,} rows read, {result['events']:,} events "
        f"({result['by_type']})"
        + (f", {repeated:,} repeated in the file (loaded once)" if repeated else "")
        + f", {result['rows_quarantined']:,} row(s) would be quarantined.",
        highlight=False,
    )
    for warning in result["warnings"]:  # type: ignore[attr-defined]
        out.print("Warning: " + warning, style="yellow", markup=False, highlight=False)
    problems = result["problems"]
    assert isinstance(problems, list)
    if problems:
        table(out, "Rows that would be quarantined", pd.DataFrame(problems[:SHOWN_PROBLEMS]))
