"""One way to write a report as a table, JSON, CSV or Parquet (``--format``, ``--out``).

Every report command that yields rows (one row per item: a customer, a step, an issue)
takes :data:`ReportFormatOpt` and :data:`OutOpt` and ends with :func:`write_rows`, so a
figure's rows can be read by a person, a program or a spreadsheet the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

from cxloop.cli.render import table
from cxloop.errors import ConfigError
from cxloop.serialize import clean, records


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


ReportFormatOpt = Annotated[
    ReportFormat,
    typer.Option(
        "--format",
        "-f",
        help="table, json, csv or parquet (parquet needs --out; with --out and the default "
        "table, the file's suffix chooses).",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Write the rows to this file instead of the terminal."),
]

_SUFFIXES = {".json": ReportFormat.JSON, ".csv": ReportFormat.CSV, ".parquet": ReportFormat.PARQUET}


def chosen_format(fmt: ReportFormat, out: Path | None) -> ReportFormat:
    """The format to write: an explicit one, else the suffix of ``--out``, else a table."""
    if fmt is ReportFormat.TABLE and out is not None:
        by_suffix = _SUFFIXES.get(out.suffix.lower())
        if by_suffix is None:
            raise ConfigError(
                f"{out}: cannot tell the format from the suffix {out.suffix or '(none)'}; "
                "name it with --format json, csv or parquet"
            )
        return by_suffix
    if fmt is ReportFormat.PARQUET and out is None:
        raise ConfigError("--format parquet writes a file: name it with --out")
    return fmt


def write_rows(
    console: Console,
    df: pd.DataFrame,
    fmt: ReportFormat,
    out: Path | None,
    *,
    title: str = "",
    columns: Sequence[str] | None = None,
    percent: Iterable[str] = (),
    meta: dict[str, Any] | None = None,
) -> None:
    """Write ``df`` one row per item. JSON is ``{**meta, "rows": [...]}`` when ``meta`` is
    given (the report's own figures beside its rows), else the list of rows; CSV and
    Parquet carry the rows only. With ``--out`` the file is written and one line says so."""
    how = chosen_format(fmt, out)
    if how is ReportFormat.TABLE:
        table(console, title, df, columns, percent)
        return
    if how is ReportFormat.JSON:
        rows = records(df)
        payload: Any = {**clean(meta), "rows": rows} if meta is not None else rows
        text = json.dumps(payload, indent=2, ensure_ascii=False)
        if out is None:
            console.out(text, highlight=False)
            return
        _write(out, lambda p: p.write_text(text + "\n", encoding="utf-8"))
    elif how is ReportFormat.CSV:
        if out is None:
            console.out(df.to_csv(index=False), highlight=False, end="")
            return
        _write(out, lambda p: df.to_csv(p, index=False))
    else:
        assert out is not None
        _write(out, lambda p: df.to_parquet(p, index=False))
    console.print(f"wrote {len(df):,} rows to {out}", highlight=False, soft_wrap=True)


def _write(out: Path, writer: Any) -> None:
    """Write through a temporary file beside ``out``, so a failed write leaves no half file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        writer(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def export(
    console: Console,
    fmt: ReportFormat,
    out: Path | None,
    rows: pd.DataFrame,
    payload: Any = None,
) -> bool:
    """For a report command that already draws its own table: write what was asked for and
    say True, or say False where the caller should draw its table.

    ``payload`` is the command's JSON answer (unchanged from before ``--out`` existed; the
    rows themselves when None); it goes to the terminal or, with ``--out``, to the file.
    CSV and Parquet carry ``rows``, one row per item."""
    how = chosen_format(fmt, out)
    if how is ReportFormat.TABLE:
        return False
    if how is ReportFormat.JSON:
        answer = records(rows) if payload is None else clean(payload)
        text = json.dumps(answer, indent=2, ensure_ascii=False)
        if out is None:
            console.out(text, highlight=False)
        else:
            _write(out, lambda p: p.write_text(text + "\n", encoding="utf-8"))
            console.print(f"wrote {len(rows):,} rows to {out}", highlight=False, soft_wrap=True)
        return True
    write_rows(console, flat(rows), how, out)
    return True


def flat(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with nested values (lists, dicts: a topic's examples, a case's contacts) as
    JSON text, so every CSV cell and Parquet column holds one plain value."""
    nested = [
        c
        for c in df.columns
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, list | dict | tuple)).any()
    ]
    if not nested:
        return df
    as_text = {
        c: df[c].map(
            lambda v: (
                json.dumps(clean(v), ensure_ascii=False)
                if isinstance(v, list | dict | tuple)
                else v
            )
        )
        for c in nested
    }
    return df.assign(**as_text)
