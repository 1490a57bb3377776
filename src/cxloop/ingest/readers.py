"""Read CSV / JSON Lines / Parquet into DuckDB as all-text tables with row numbers.

Every reader registers a table whose columns are the file's columns as text
plus ``_row`` (the 1-based data row: the first row after a CSV header is 1; in
JSON Lines it is the line number). Rows that cannot be parsed at all (wrong
number of CSV fields, invalid JSON, bytes that are not UTF-8, a line over
:data:`MAX_ROW_BYTES`) come back as problems, never dropped. A file that cannot be read
as its format at all (compressed, binary, a duplicated column name, a column named as
the lineage) is refused with :class:`~cxloop.errors.InputError` naming the file.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxloop.errors import InputError
from cxloop.ingest.csv_load import CSV_BUFFER_BYTES as CSV_BUFFER_BYTES
from cxloop.ingest.csv_load import MAX_ROW_BYTES as MAX_ROW_BYTES
from cxloop.ingest.csv_load import CsvOptions, Projection, load_csv, number_rows
from cxloop.ingest.sniff import check_text_file, short
from cxloop.store.state import Problem

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Column names the readers and mappings use for lineage: a source column so named is
#: refused (CSV, Parquet: the file; JSON Lines: the line), never allowed to overwrite it.
RESERVED = frozenset({"_row", "_file", "_record"})


@dataclass(frozen=True)
class RawTable:
    name: str  # the DuckDB relation holding the rows
    file: str
    columns: list[str]
    rows: int  # rows read, bad ones included
    problems: list[Problem]
    registered: bool = True  # an Arrow table registered with DuckDB, else a DuckDB table


def release(con: duckdb.DuckDBPyConnection, raw: RawTable) -> None:
    """Free a raw table's rows (once they are parsed and the bad rows are extracted)."""
    if raw.registered:
        con.unregister(raw.name)
    else:
        con.execute(f"DROP VIEW IF EXISTS {raw.name}; DROP TABLE IF EXISTS {raw.name}_rows")


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown file format {path.suffix!r}; expected one of "
            + ", ".join(sorted(FORMATS))
        )
    return fmt


def read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str | None = None,
    project: Projection | None = None,
) -> RawTable:
    """Read ``path`` (by its extension); a CSV through ``project`` if given (see
    :func:`_read_csv`), other formats as they are (``project`` is then the caller's to
    apply to the raw table)."""
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        size = path.stat().st_size
    except (OSError, RuntimeError) as exc:  # a symbolic link loop, no permission
        raise InputError(f"{path}: cannot be read ({short(exc)})") from exc
    if size == 0:
        raise InputError(f"{path}: the file is empty")
    name = name or f"raw_{uuid.uuid4().hex[:8]}"
    fmt = detect_format(path)
    if fmt != "parquet":
        check_text_file(path, fmt)
    if fmt == "csv":
        raw = _read_csv(con, path, name, project)
    else:
        raw = {"jsonl": _read_jsonl, "parquet": _read_parquet}[fmt](con, path, name)
    reserved = sorted(RESERVED.intersection(raw.columns))
    if reserved:
        release(con, raw)
        raise InputError(
            f"{path}: column {reserved[0]!r} is reserved for cxloop's lineage (the file and "
            "row an event came from); rename it in the source"
        )
    return raw


def _register(
    con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, good_rows: np.ndarray
) -> None:
    table = table.append_column("_row", pa.array(good_rows, type=pa.int64()))
    con.register(name, table)


def _numbers(total: int, bad: set[int]) -> np.ndarray:
    rows = np.arange(1, total + 1, dtype=np.int64)
    if bad:
        rows = rows[~np.isin(rows, np.fromiter(bad, dtype=np.int64))]
    return rows


def _read_csv(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, project: Projection | None = None
) -> RawTable:
    """Load the CSV into a DuckDB temp table; its ``rowid`` follows the file order
    (DuckDB preserves insertion order), which numbers the rows without another copy.

    ``project`` (given the file's columns and the FROM item of its rows) is the query the
    rows are read through: a mapping parses and checks them as they stream in, so only the
    parsed table is kept (it spills to disk beyond the connection's memory limit); it must
    keep the file's row order and one output row per input row."""
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    loaded = load_csv(con, path, path, name, CsvOptions(delim), project)
    number_rows(con, name, loaded.problems)
    return RawTable(name, str(path), loaded.columns, loaded.rows, loaded.problems, False)


def to_text(value: object) -> str | None:
    """A JSON value as the text a raw column holds (objects and arrays as JSON)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _encodable(obj: dict[str, object]) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_reason(exc: json.JSONDecodeError, line: str) -> str:
    """Why a line is not JSON, where (Python's messages end in "at": dropped before ours).
    A string still open when the line ends (a cut-off export) says so."""
    what = exc.msg.removesuffix(" at")
    if what == "Invalid control character" and exc.pos >= len(line.rstrip("\r\n")):
        what = "a string is still open when the line ends (its closing quote is missing)"
    elif what.startswith("Unterminated string"):
        what = "a string never closes (its closing quote is missing)"
    return f"invalid JSON: {what} at column {exc.colno}"


def _parse_line(data: bytes, lineno: int) -> tuple[dict[str, object] | None, str, str]:
    """One JSON Lines line as an object, or (None, field, reason)."""
    if len(data) > MAX_ROW_BYTES:
        return None, "(line)", f"line of {len(data)} bytes, over the limit of {MAX_ROW_BYTES}"
    try:
        line = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at column {exc.start + 1}"
        return None, "(line)", f"not UTF-8 text: {where}"
    if lineno == 1:
        line = line.removeprefix("\ufeff")
    try:
        obj = json.loads(line, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        return None, "(line)", _json_reason(exc, line)
    except _DuplicateKey as exc:
        return None, str(exc), f"key {str(exc)!r} appears twice in the object"
    except RecursionError:
        return None, "(line)", "invalid JSON: nested too deep"
    if not isinstance(obj, dict):
        return None, "(line)", "expected a JSON object per line"
    if ("\\ud" in line or "\\uD" in line) and not _encodable(obj):
        return (
            None,
            "(line)",
            "invalid JSON: a lone surrogate escape (\\ud800-\\udfff) is no character",
        )
    reserved = sorted(RESERVED.intersection(obj))
    if reserved:
        return None, reserved[0], "reserved for cxloop's lineage (the file and row); rename it"
    return obj, "", ""


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> RawTable:
    columns: dict[str, list[str | None]] = {}
    rows: list[int] = []
    problems: list[Problem] = []
    total = 0
    with path.open("rb") as fh:
        for lineno, data in enumerate(fh, start=1):
            if not data.strip():
                continue
            total = lineno
            obj, field, reason = _parse_line(data, lineno)
            if obj is None:
                shown = data.strip()[:200].decode("utf-8", errors="backslashreplace")
                problems.append(Problem(str(path), lineno, field, reason, shown, None))
                continue
            n = len(rows)
            for key, value in obj.items():
                col = columns.get(key)
                if col is None:  # not setdefault: its default list would be built every time
                    col = columns[key] = [None] * n
                col.append(to_text(value))
            rows.append(lineno)
            for col in columns.values():
                if len(col) < n + 1:
                    col.append(None)
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    if not columns:
        table = pa.table({"_empty": pa.array([None] * len(rows), type=pa.string())})
    _register(con, name, table, np.array(rows, dtype=np.int64))
    return RawTable(name, str(path), list(columns), total, problems)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> RawTable:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot be read as Parquet: {short(exc)}") from exc
    arrays = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            arrays.append(pa.array([to_text(v) for v in col.to_pylist()], type=pa.string()))
        elif pa.types.is_timestamp(col.type) and col.type.tz is not None:
            # a zone-aware time: its instant, in UTC (strftime would print the local time)
            utc = pc.cast(col, pa.timestamp(col.type.unit, "UTC"))
            arrays.append(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ"))
        elif pa.types.is_timestamp(col.type):
            arrays.append(pc.strftime(col, format="%Y-%m-%dT%H:%M:%S"))
        else:
            arrays.append(pc.cast(col, pa.string()))
    text = pa.table(arrays, names=table.column_names)
    _register(con, name, text, np.arange(1, text.num_rows + 1, dtype=np.int64))
    return RawTable(name, str(path), text.column_names, text.num_rows, [])
