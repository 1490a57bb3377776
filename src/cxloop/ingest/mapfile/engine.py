"""A mapping file as a :class:`~cxloop.ingest.mappings.base.Mapping`: compiled to DuckDB SQL.

Each input is read (readers.py / documents.py) into an all-text table with ``_file`` and
``_row``; each ``[[events]]`` table becomes one SELECT over its input (one row per element
when ``each`` names a nested array, lookups LEFT JOINed), with row checks. A row any of
whose events fails a check is quarantined (file, row, field, reason); the others go on to
the shared staging (stable ids, content hashes).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cxloop.domain.events import DEFAULT_DEPARTMENT
from cxloop.errors import MappingError
from cxloop.ingest.documents import SUFFIX_FORMATS, read_any
from cxloop.ingest.mapfile.aggregates import build_aggregate
from cxloop.ingest.mapfile.checks import event_checks, event_select
from cxloop.ingest.mapfile.spec import InputSpec, MapSpec, load_spec, parse_spec
from cxloop.ingest.mapfile.swap import day_month_warnings
from cxloop.ingest.mapfile.values import Scope
from cxloop.ingest.readers import RawTable, release
from cxloop.ingest.staging import finish_staging, lit, q, record_json, split_bad_rows
from cxloop.store.state import Problem

if TYPE_CHECKING:  # mappings/ imports this module: no import of it at load time
    from cxloop.ingest.mappings.base import Staged

__all__ = ["DEFAULT_DEPARTMENT", "FileMapping"]


class FileMapping:
    """A mapping declared in a TOML file (built in, or the user's own)."""

    def __init__(self, spec: MapSpec, text: str) -> None:
        self.spec = spec
        self.name = spec.name
        self.description = spec.description
        self._text = text
        self.fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_params(self, values: dict[str, str]) -> FileMapping:
        """The same mapping with parameters set (``--param NAME=VALUE``)."""
        unknown = sorted(set(values) - set(self.spec.params))
        if unknown:
            from cxloop.ingest.mapfile.spec import MappingFileError

            known = ", ".join(self.spec.params) or "none"
            raise MappingFileError(
                self.spec.file, "params", f"no parameter {unknown[0]!r} (declared: {known})"
            )
        spec = replace(self.spec, params={**self.spec.params, **values})
        out = FileMapping(spec, self._text)
        out.fingerprint = hashlib.sha256(
            (self._text + repr(sorted(values.items()))).encode()
        ).hexdigest()[:16]
        return out

    @classmethod
    def from_file(cls, path: Path, name: str | None = None) -> FileMapping:
        spec = load_spec(path, name)
        return cls(spec, path.read_text(encoding="utf-8"))

    @classmethod
    def from_text(cls, text: str, file: str, name: str) -> FileMapping:
        import tomllib

        from cxloop.ingest.mapfile.spec import MappingFileError

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MappingFileError(file, "", f"not valid TOML: {exc}") from None
        return cls(parse_spec(data, file, name), text)

    # -- files -----------------------------------------------------------------

    def files(self, path: Path) -> dict[str, list[Path]]:
        """The files each input reads for ``path`` (a file, or a directory)."""
        inputs = self.spec.inputs
        if not path.is_dir():
            if len(inputs) > 1:
                raise MappingError(
                    f"{path}: mapping {self.name} reads several files "
                    f"({', '.join(i.file or i.name for i in inputs.values())}): give the "
                    "directory holding them"
                )
            return {next(iter(inputs)): [path]}
        out: dict[str, list[Path]] = {}
        for name, spec in inputs.items():
            found = self._match(path, spec)
            if not found and not spec.optional:
                want = spec.file or "a CSV, JSON, JSON Lines or Parquet file"
                raise MappingError(f"{path}: no {want} in this directory (input {name})")
            out[name] = found
        return out

    @staticmethod
    def _match(path: Path, spec: InputSpec) -> list[Path]:
        if spec.file:
            return sorted(p for p in path.glob(spec.file) if p.is_file())
        return sorted(
            p
            for p in path.iterdir()
            if p.is_file()
            and (SUFFIX_FORMATS.get(p.suffix.lower()) or "")
            == (spec.format or SUFFIX_FORMATS.get(p.suffix.lower()))
        )

    def inputs(self, path: Path) -> list[Path]:
        return [f for files in self.files(path).values() for f in files]

    # -- staging ---------------------------------------------------------------

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, staged: str) -> Staged:
        from cxloop.ingest.mappings.base import Staged

        raws, problems, columns, data_files = self._read_inputs(con, path)
        read_from = {name for name, files in self.files(path).items() if files}
        index = {name: i for i, name in enumerate(self.spec.inputs)}
        lookups = {
            k: list(lk.aggregate) if lk.aggregate else columns[lk.input]
            for k, lk in self.spec.lookups.items()
        }
        quarantined: dict[str, list[str]] = {}
        warnings: list[str] = []
        absent = {name for name, cols in columns.items() if name not in read_from}

        def scope_of(src: str, alias: str | None = None) -> Scope:
            return Scope(
                self.spec.file,
                data_files[src],
                columns[src],
                alias,
                lookups,
                params=self.spec.params,
                sparse=self._sparse(src, absent),
                quarantined=quarantined,
            )

        for name, lk in self.spec.lookups.items():
            if lk.aggregate:
                problems += build_aggregate(con, self.spec, name, scope_of(lk.input), index)
        for n, event in enumerate(self.spec.events):
            scope = scope_of(event.input, event.alias if event.each else None)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _ev{n} AS "
                + event_select(self.spec, event, scope, index)
            )
            checks = event_checks(self.spec, event, scope, data_files)
            problems += split_bad_rows(
                con, f"_ev{n}", checks, f"_ev{n}_bad", records_from=f"_rec{index[event.input]}"
            )
            quarantined.setdefault(event.input, []).append(f"_ev{n}_bad")
            warnings += day_month_warnings(
                con, event, f"_ev{n}", f"_ev{n}_bad", data_files[event.input]
            )
        bad = [f"SELECT _file, _row FROM _ev{n}_bad" for n in range(len(self.spec.events))]
        if self.spec.unmatched == "quarantine":
            problems += self._unmatched(con, index, bad)
        self._finish(con, bad, staged)
        for raw in raws:
            release(con, raw)
        rows = sum(r.rows for r in raws)
        return Staged(staged, rows, sorted(problems, key=_order), warnings)

    def _read_inputs(
        self, con: duckdb.DuckDBPyConnection, path: Path
    ) -> tuple[list[RawTable], list[Problem], dict[str, list[str]], dict[str, str]]:
        """Read every input's files: ``_inN`` (rows, ``_file``), ``_recN`` (raw records)."""
        raws: list[RawTable] = []
        problems: list[Problem] = []
        columns: dict[str, list[str]] = {}
        data_files: dict[str, str] = {}
        for i, (name, files) in enumerate(self.files(path).items()):
            spec = self.spec.inputs[name]
            read = [self._read(con, f, spec) for f in files]
            raws += read
            problems += [p for r in read for p in r.problems]
            columns[name] = self._union(con, f"_in{i}", read)
            self._records(con, f"_rec{i}", read)
            data_files[name] = ", ".join(r.file for r in read) or (spec.file or name)
        return raws, problems, columns, data_files

    def _finish(self, con: duckdb.DuckDBPyConnection, bad: list[str], staged: str) -> None:
        cols = "event_id, customer_id, event_type, ts, department, channel, ref, amount, "
        cols += "due_at, attrs, _file, _row"
        events = range(len(self.spec.events))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _fm_events AS "
            + " UNION ALL ".join(f"SELECT {cols} FROM _ev{n}" for n in events)
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _fm_bad AS " + " UNION ".join(bad))
        finish_staging(con, "_fm_events", "_fm_bad", staged, self.name)

    def _sparse(self, event_input: str, absent: set[str]) -> set[str]:
        """Scopes ("" the event's input, else a lookup) where a column may be missing: read
        from JSON records, or an optional input whose file is absent (all empty)."""
        inputs = self.spec.inputs

        def is_json(name: str) -> bool:
            return (
                name in absent
                or inputs[name].format in ("json", "jsonl")
                or ((inputs[name].file or "").endswith((".json", ".jsonl", ".ndjson")))
            )

        out = {k for k, lk in self.spec.lookups.items() if is_json(lk.input)}
        return out | ({""} if is_json(event_input) else set())

    def _unmatched(
        self, con: duckdb.DuckDBPyConnection, index: dict[str, int], bad: list[str]
    ) -> list[Problem]:
        """Rows of an events' input that no [[events]] table took (nor quarantined)."""
        problems: list[Problem] = []
        for name, i in index.items():
            tables = [f"_ev{n}" for n, e in enumerate(self.spec.events) if e.input == name]
            if not tables:
                continue  # an input read for lookups only
            taken = " UNION ".join([*(f"SELECT _file, _row FROM {t}" for t in tables), *bad])
            rows = con.execute(f"""
                SELECT r._file, r._row, CAST(r._record AS VARCHAR) FROM _rec{i} r
                WHERE NOT EXISTS (SELECT 1 FROM ({taken}) t
                                  WHERE t._file = r._file AND t._row = r._row)
                ORDER BY 1, 2""").fetchall()
            reason = (
                "matched no [[events]] table (see their when conditions; set "
                'unmatched = "skip" in the mapping to pass over such rows)'
            )
            problems += [Problem(f, int(r), "(row)", reason, None, rec) for f, r, rec in rows]
        return problems

    def _read(self, con: duckdb.DuckDBPyConnection, file: Path, spec: InputSpec) -> RawTable:
        d = spec.csv
        default = d.__class__()
        dialect = None
        if d != default:
            dialect = {k: getattr(d, k) for k in d.__dataclass_fields__}
        return read_any(con, file, spec.format, spec.records, dialect)

    @staticmethod
    def _union(con: duckdb.DuckDBPyConnection, name: str, raws: list[RawTable]) -> list[str]:
        cols: list[str] = []
        for raw in raws:
            cols += [c for c in raw.columns if c not in cols]
        if not raws:
            empty = ", ".join(f"NULL::VARCHAR AS {q(c)}" for c in cols) or "NULL::VARCHAR AS _x"
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {empty}, NULL::VARCHAR AS _file, "
                "NULL::BIGINT AS _row WHERE false"
            )
            return cols
        selects = [f"SELECT *, {lit(r.file)} AS _file FROM {r.name}" for r in raws]
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS " + " UNION ALL BY NAME ".join(selects))
        return cols

    @staticmethod
    def _records(con: duckdb.DuckDBPyConnection, name: str, raws: list[RawTable]) -> None:
        selects = [
            f"SELECT {lit(r.file)} AS _file, _row, {record_json(r.columns)} AS _record "
            f"FROM {r.name} r"
            for r in raws
        ] or [
            "SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _row, NULL::JSON AS _record WHERE false"
        ]
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS " + " UNION ALL ".join(selects))


def _order(p: Problem) -> tuple[str, int, str]:
    return (p.file, p.row, p.field)
