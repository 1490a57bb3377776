"""Load one CSV file of any dialect into a DuckDB temp table of text columns.

Both CSV readers (the generic one in readers.py and the declared dialect of a mapping in
documents.py) come here. The rows table keeps the file's order, so its ``rowid`` numbers
the good rows; the rows DuckDB rejects are problems naming file, row and field.

An unterminated quote (``"`` opening a value that never closes) makes DuckDB read the
rest of the file as that one value and reject it whole: every row after it would be
lost without a word. So a reject of that kind cuts the read there: the bad row is
quarantined (its own line shown), the good rows after it are dropped and the remainder
of the file, from the line after the bad one, is read again (and again, if it holds
another such quote). A well-formed file is read exactly once, as before; the extra reads
(and a copy of the remainder into the store's ``tmp/``) happen only on such a reject.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cxloop.errors import InputError
from cxloop.ingest.sniff import check_header, short
from cxloop.ingest.transcode import tmp_dir
from cxloop.store.state import Problem

#: The longest row (CSV line or JSON Lines line) read; a longer one is quarantined (JSON
#: Lines) or refuses the file with its row named (CSV).
MAX_ROW_BYTES = 64 << 20
#: DuckDB's CSV read buffer: room for two of the longest rows (DuckDB's default, 16 rows
#: of :data:`MAX_ROW_BYTES`, would take 1 GiB a buffer, past an ingest's memory limit).
#: Fixed, not scaled to ``ingest_memory``: a 10 M-row CSV read in 119 MiB buffers lost
#: rows at buffer boundaries (DuckDB 1.4.5), in 128 MiB buffers it read every row.
CSV_BUFFER_BYTES = 2 * MAX_ROW_BYTES
#: The query a mapping reads a CSV through, given its column names and the FROM item of
#: its raw rows (all text, in file order).
Projection = Callable[[list[str], str], str]

# one problem per rejected row and column; a row with too few or too many fields is one
# problem of the whole row (DuckDB reports a missing-columns row once per missing column)
_REJECTS = """
    SELECT line, CASE WHEN _count THEN NULL ELSE column_name END, error_type, csv_line,
           error_message
    FROM (SELECT *, CAST(error_type AS VARCHAR) IN ('MISSING COLUMNS', 'TOO MANY COLUMNS')
                    AS _count FROM {0})
    QUALIFY row_number() OVER (PARTITION BY line, CASE WHEN _count THEN '' ELSE column_name END
                               ORDER BY error_message) = 1
    ORDER BY line, column_name
"""
# the first reject of a value whose quote never closes (DuckDB read the rest of the file
# as that value)
_UNTERMINATED = """
    SELECT line, line_byte_position, column_name, csv_line FROM {0}
    WHERE CAST(error_type AS VARCHAR) = 'UNQUOTED VALUE'
      AND error_message LIKE '%unterminated quote%'
    ORDER BY line LIMIT 1
"""


@dataclass(frozen=True)
class CsvOptions:
    delim: str = ","
    quote: str = '"'  # "" reads every character as it is (no quoting)
    escape: str = '"'
    header: bool = True
    skip: int = 0


@dataclass(frozen=True)
class Loaded:
    columns: list[str]
    rows: int  # rows read, bad ones included
    problems: list[Problem]


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read(src: Path, name: str, o: CsvOptions, columns: list[str] | None, newline: str) -> str:
    """The ``read_csv`` FROM item of ``src``; with ``columns``, no sniffing."""
    escape = o.escape if o.quote else ""
    read = (
        f"read_csv({sql_text(str(src))}, header = {'true' if o.header else 'false'}, "
        f"delim = {sql_text(o.delim)}, quote = {sql_text(o.quote)}, "
        f"escape = {sql_text(escape)}, store_rejects = true, rejects_table = '{name}_rej', "
        f"rejects_scan = '{name}_scan', max_line_size = {MAX_ROW_BYTES}, "
        f"buffer_size = {CSV_BUFFER_BYTES}, all_varchar = true"
    )
    if o.skip:
        read += f", skip = {o.skip}"
    if columns is None:
        return read + ")"
    types = ", ".join(f"{sql_text(n)}: 'VARCHAR'" for n in columns)
    return read + f", auto_detect = false, columns = {{{types}}}, new_line = {sql_text(newline)})"


def _through(project: Projection | None, columns: list[str], read: str) -> str:
    return f"SELECT * FROM {read}" if project is None else project(columns, read)


def _open(
    con: duckdb.DuckDBPyConnection, src: Path, name: str, o: CsvOptions, names: list[str], nl: str
) -> tuple[list[str], str]:
    """The file's columns and the FROM item to read it through."""
    try:
        read = _read(src, name, o, None, nl)
        return [d[0] for d in con.execute(f"SELECT * FROM {read} LIMIT 0").description], read
    except duckdb.InvalidInputException as exc:
        if "sniffing" not in str(exc) or not names:
            raise
    # a ragged row or an unterminated quote defeats the dialect sniffer: read the file
    # with the header's own columns, so the bad rows are rejected one by one
    return names, _read(src, name, o, names, nl)


def _rejects(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, base: int
) -> tuple[list[Problem], tuple[int, int, str] | None]:
    """The problems of the last read (row = ``base`` + DuckDB's line) and, if a quote
    never closed, (its row, byte position of its line in the file read)."""
    rej = f"{name}_rej"
    problems = [
        Problem(
            str(path),
            base + int(line),
            column or "(row)",
            f"{error_type.lower().replace('_', ' ')}: {short(message)}",
            None,
            json.dumps({"line": csv_line}),
        )
        for line, column, error_type, csv_line, message in con.execute(
            _REJECTS.format(rej)
        ).fetchall()
    ]
    cut = con.execute(_UNTERMINATED.format(rej)).fetchone()
    con.execute(f"DROP TABLE IF EXISTS {rej}; DROP TABLE IF EXISTS {name}_scan")
    if cut is None:
        return problems, None
    line, position, column, text = cut
    row = base + int(line)
    first = first_line(str(text))
    where = f"column {column!r}" if column else "this row"
    reason = (
        f"unterminated quote: a quote opened in {where} never closes; the row is set "
        "aside and the lines after it are read as rows"
    )
    kept = [p for p in problems if p.row < row]
    kept.append(
        Problem(str(path), row, column or "(row)", reason, None, json.dumps({"line": first}))
    )
    return kept, (row, int(position), first)


def first_line(text: str) -> str:
    """The first physical line of a rejected row's text (DuckDB's text of a CRLF row
    may start with the line break before it)."""
    return text.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")


def _line_end(part: Path, position: int, path: Path, row: int, first: str) -> int:
    """The byte offset just after the physical line at byte ``position``, which must
    hold ``first`` (the rejected row's own line); the file is refused otherwise."""
    with part.open("rb") as fh:
        start = max(0, position - (1 << 16))
        fh.seek(start)
        head = fh.read(position - start)
        newline = head.rfind(b"\n")
        start += newline + 1
        fh.seek(start)
        line = fh.readline(MAX_ROW_BYTES + 2)
    if line.decode("utf-8", errors="replace").rstrip("\r\n") != first or newline < 0 < start:
        raise InputError(
            f"{path}: row {row}: a quote opened in this row never closes, and the rows "
            "after it cannot be told apart; close the quote (nothing was loaded)"
        )
    return start + len(line)


def _tail(con: duckdb.DuckDBPyConnection, part: Path, end: int) -> Path | None:
    """The bytes of ``part`` from ``end`` on, in a file of the store's tmp/ (None: none)."""
    if end >= part.stat().st_size:
        return None
    out = tmp_dir(con) / f"cxloop-rest-{uuid.uuid4().hex[:8]}.csv"
    with part.open("rb") as src, out.open("wb") as dst:
        src.seek(end)
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


def _keep(con: duckdb.DuckDBPyConnection, rows: str, count: int) -> None:
    """Keep the first ``count`` rows of the rows table (in order)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {rows}_keep AS SELECT * FROM {rows} WHERE rowid < {count};"
        f"DROP TABLE {rows}; ALTER TABLE {rows}_keep RENAME TO {rows}"
    )


def _why(exc: duckdb.Error, o: CsvOptions) -> str:
    """DuckDB's error as one line a user can act on (never its SQL or its hints)."""
    text = str(exc)
    if "sniffing" in text:
        return (
            f"its rows do not split into columns with delimiter {o.delim!r} and quote "
            f"{o.quote!r}; declare the file's delimiter, quote and header in a mapping "
            "(docs/mappings.md), nothing was loaded"
        )
    if "line size" in text.lower():
        return f"a row is over {MAX_ROW_BYTES >> 20} MiB, nothing was loaded"
    if "not utf-8" in text.lower() or "encoded" in text:
        return 'not UTF-8 text; declare its encoding in a mapping (encoding = "cp1252")'
    return short(text.split("Error: ", 1)[-1])


@dataclass(frozen=True)
class _Scan:
    """One file being read: where its rows go and how its parts are read."""

    path: Path  # the file named in problems
    name: str
    o: CsvOptions
    columns: list[str]
    newline: str
    project: Projection | None


def _recover(
    con: duckdb.DuckDBPyConnection,
    scan: _Scan,
    src: Path,
    problems: list[Problem],
    cut: tuple[int, int, str] | None,
) -> list[Problem]:
    """Cut the rows table at each unterminated quote and read the rest of the file from
    the line after it (a part copied into tmp/, deleted after)."""
    rows, part = f"{scan.name}_rows", src
    rest = CsvOptions(scan.o.delim, scan.o.quote, scan.o.escape, header=False)
    try:
        while cut is not None:
            row, position, first = cut
            end = _line_end(part, position, scan.path, row, first)
            _keep(con, rows, row - 1 - len({p.row for p in problems if p.row < row}))
            tail = _tail(con, part, end)
            if part != src:
                part.unlink(missing_ok=True)
            if tail is None:
                break
            part = tail
            read = _read(part, scan.name, rest, scan.columns, scan.newline)
            con.execute(f"INSERT INTO {rows} {_through(scan.project, scan.columns, read)}")
            more, cut = _rejects(con, scan.path, scan.name, row)
            problems = problems + more
    finally:
        if part != src:
            part.unlink(missing_ok=True)
    return problems


def load_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    src: Path,
    name: str,
    o: CsvOptions,
    project: Projection | None = None,
) -> Loaded:
    """Read ``src`` (``path`` itself, or its UTF-8 copy) into the temp table
    ``{name}_rows`` through ``project`` (see readers.py); problems name ``path``."""
    rows = f"{name}_rows"
    names, newline = check_header(src, o.delim, o.quote, o.skip, unique=o.header)
    if not o.header:
        names = [f"column{i}" for i in range(len(names))]
    try:
        columns, read = _open(con, src, name, o, names, newline)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rows} AS {_through(project, columns, read)}")
        problems, cut = _rejects(con, path, name, -o.skip - (1 if o.header else 0))
        if cut is not None:  # only then: a well-formed file is read once
            scan = _Scan(path, name, o, columns, newline, project)
            problems = _recover(con, scan, src, problems, cut)
    except duckdb.Error as exc:
        con.execute(f"DROP TABLE IF EXISTS {rows}")
        raise InputError(f"{path}: cannot be read as CSV: {_why(exc, o)}") from None
    except InputError:
        con.execute(f"DROP TABLE IF EXISTS {rows}")
        raise
    (good,) = con.execute(f"SELECT count(*) FROM {rows}").fetchone() or (0,)
    return Loaded(columns, int(good) + len({p.row for p in problems}), problems)


def number_rows(con: duckdb.DuckDBPyConnection, name: str, problems: list[Problem]) -> None:
    """The view ``name``: the rows table with ``_row``, the data row each good row was
    read from (the rejected rows' numbers skipped)."""
    bad = sorted({p.row for p in problems})
    row = "rowid + 1"
    if bad:
        # good row i (0-based) is preceded by the rejected rows j with r_j - j <= i
        # (r_j - j good rows come before the j-th rejected row)
        values = ", ".join(f"({r - j})" for j, r in enumerate(bad, start=1))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name}_skips AS "
            f"SELECT * FROM (VALUES {values}) v(good_before)"
        )
        row = f"rowid + 1 + (SELECT count(*) FROM {name}_skips k WHERE k.good_before <= r.rowid)"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT r.*, {row} AS _row FROM {name}_rows r"
    )
