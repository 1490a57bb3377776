"""Read JSON documents and CSV files of any dialect into DuckDB, like readers.py does.

A JSON document is an array of records, one record (an object), or an object holding
the array at a path (``records = "data.items"``). Each record becomes a row whose
columns are its top-level keys as text (nested objects and arrays as JSON text, for
paths to reach into); ``_row`` is the record's position (the first is 1). A record
that is not an object is a problem naming file and row, never dropped.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from cxloop.errors import InputError
from cxloop.ingest import readers
from cxloop.ingest.csv_load import CsvOptions, load_csv, number_rows
from cxloop.ingest.readers import RawTable
from cxloop.ingest.transcode import to_utf8
from cxloop.store.state import Problem

SUFFIX_FORMATS = {**readers.FORMATS, ".json": "json"}


def format_of(path: Path, declared: str | None = None) -> str:
    if declared:
        return declared
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown file format {path.suffix!r}; expected one of "
            + ", ".join(sorted(SUFFIX_FORMATS))
            + " (or declare format in the mapping)"
        )
    return fmt


def read_any(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str | None = None,
    records: str | None = None,
    dialect: dict[str, object] | None = None,
) -> RawTable:
    """Read one file as ``fmt`` (default: by its extension) into an all-text table."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    kind = format_of(path, fmt)
    name = f"raw_{uuid.uuid4().hex[:8]}"
    if kind == "json":
        return read_json_document(con, path, name, records)
    if kind == "csv" and (dialect or path.suffix.lower() not in (".csv", ".tsv")):
        return read_csv_dialect(con, path, name, dialect or {})
    if SUFFIX_FORMATS.get(path.suffix.lower()) == kind:
        return readers.read_file(con, path, name)
    raise InputError(f"{path}: declared format {kind} needs a .{kind} file name")


def _records(doc: object, path: Path, records: str | None) -> list[object]:
    node = doc
    if records:
        for i, part in enumerate(records.split(".")):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(records.split(".")[: i + 1])
                raise InputError(f"{path}: no {where!r} in the document (records = {records!r})")
            node = node[part]
    if isinstance(node, list):
        return node
    if isinstance(node, dict):
        return [node]
    raise InputError(
        f"{path}: expected a JSON array or object of records, got {type(node).__name__}"
    )


def read_json_document(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, records: str | None = None
) -> RawTable:
    try:
        with path.open(encoding="utf-8-sig") as fh:
            doc = json.load(fh)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
            "(a file of one JSON object per line is JSON Lines: name it .jsonl)"
        ) from None
    items = _records(doc, path, records)
    columns: dict[str, list[str | None]] = {}
    rows: list[int] = []
    problems: list[Problem] = []
    for i, obj in enumerate(items, start=1):
        if not isinstance(obj, dict):
            problems.append(
                Problem(
                    str(path), i, "(record)", "expected a JSON object", readers.to_text(obj), None
                )
            )
            continue
        n = len(rows)
        for key, value in obj.items():
            columns.setdefault(str(key), [None] * n).append(readers.to_text(value))
        rows.append(i)
        for col in columns.values():
            if len(col) < n + 1:
                col.append(None)
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    if not columns:
        table = pa.table({"_empty": pa.array([None] * len(rows), type=pa.string())})
    table = table.append_column("_row", pa.array(np.array(rows, dtype=np.int64), type=pa.int64()))
    con.register(name, table)
    return RawTable(name, str(path), list(columns), len(items), problems)


def read_csv_dialect(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, dialect: dict[str, object]
) -> RawTable:
    """A CSV with a declared delimiter, quote ("" for none), escape, encoding, header and
    lines to skip; rows DuckDB cannot split are problems (file, row, reason), as in
    readers.py. Text in another encoding than UTF-8 is read from a UTF-8 copy."""
    options = CsvOptions(
        delim=str(dialect.get("delimiter", "\t" if path.suffix.lower() == ".tsv" else ",")),
        quote=str(dialect.get("quote", '"')),
        escape=str(dialect.get("escape", '"')),
        header=bool(dialect.get("header", True)),
        skip=int(str(dialect.get("skip", 0))),
    )
    encoding = str(dialect.get("encoding", "utf-8")).replace("iso-8859-1", "latin-1")
    src = path if encoding == "utf-8" else to_utf8(con, path, encoding)
    try:
        loaded = load_csv(con, path, src, name, options)
    finally:
        if src != path:
            src.unlink(missing_ok=True)
    number_rows(con, name, loaded.problems)
    return RawTable(name, str(path), loaded.columns, loaded.rows, loaded.problems, False)
