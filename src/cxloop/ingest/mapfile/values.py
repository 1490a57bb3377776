"""A mapping file's values as DuckDB SQL: references, templates, maps, times, numbers.

References are resolved against the columns read (see :class:`Scope`): a column name,
``alias.path`` / ``alias#`` inside a nested array, ``lookup.column`` in a joined input,
or a JSON path into a column (``dialogHeader.company``, ``dialogContent[0].client``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from cxloop.ingest.mapfile import formats
from cxloop.ingest.mapfile.formats import floored, numeric_time_sql
from cxloop.ingest.mapfile.spec import MappingFileError, Value
from cxloop.ingest.staging import lit, q

OFFSET = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
#: Twitter's snowflake ids count milliseconds from this instant (2010-11-04T01:42:54.657Z)
TWITTER_EPOCH_MS = 1288834974657
FORMAT_HINTS = {
    "snowflake": "a snowflake id (milliseconds since its epoch in the top bits)",
    "iso": "ISO 8601, e.g. 2026-05-01T14:30:00Z",
    "epoch": "seconds since 1970-01-01 UTC",
    "epoch_ms": "milliseconds since 1970-01-01 UTC",
    "excel": "a spreadsheet serial day number (days since 1899-12-30)",
}


def text(sql: str) -> str:
    return f"nullif(trim({sql}), '')"


#: The reference to the source row's number (the first data row is 1), e.g.
#: ``event_id = "bitext:{_row}"`` for a file without an id column.
ROW_REF = "_row"


@dataclass
class Scope:
    """What references can name for one event: its input's columns (``r.``), the nested
    array's element (``r._el``, ``r._i``) and the lookups joined (``lk_NAME``)."""

    file: str  # the mapping file, for messages
    data: str  # the data file(s), for messages
    columns: list[str]
    alias: str | None = None
    lookups: dict[str, list[str]] = field(default_factory=dict)
    used_lookups: list[str] = field(default_factory=list)
    used_columns: set[str] = field(default_factory=set)
    params: dict[str, str | None] = field(default_factory=dict)
    #: inputs of JSON records, whose keys are optional: a key no record has is empty
    sparse: set[str] = field(default_factory=set)
    #: per input, the bad-row tables of the [[events]] tables built so far (loaded_only)
    quarantined: dict[str, list[str]] = field(default_factory=dict)

    def ref(self, ref: str, key: str) -> str:
        """SQL for a reference, as trimmed text (NULL when empty)."""
        return text(self.raw(ref, key))

    def raw(self, ref: str, key: str) -> str:
        if ref.startswith("params."):
            name = ref.removeprefix("params.")
            if name not in self.params:
                raise MappingFileError(self.file, key, f"no parameter {name!r} in [params]")
            value = self.params[name]
            if value is None:
                raise MappingFileError(
                    self.file, f"params.{name}", f"has no value: give one with --param {name}=..."
                )
            return lit(value)
        if self.alias is not None:
            if ref == self.alias:
                return "json_extract_string(r._el, '$')"
            if ref == self.alias + "#":
                return "CAST(r._i AS VARCHAR)"
            for sep in (".", "["):
                if ref.startswith(self.alias + sep):
                    return f"json_extract_string(r._el, {lit(_json_path(ref[len(self.alias) :]))})"
        if ref == ROW_REF and ref not in self.columns:
            return "CAST(r._row AS VARCHAR)"
        head, sep, rest = ref.partition(".")
        if sep and head in self.lookups:
            if head not in self.used_lookups:
                self.used_lookups.append(head)
            return _column_or_path(f"lk_{head}", rest, self.lookups[head], self, key, head)
        return _column_or_path("r", ref, self.columns, self, key, None)

    def absent(self, lookup: str | None) -> bool:
        return (lookup or "") in self.sparse

    def json_array(self, ref: str, key: str) -> str:
        """SQL for the list of elements of the JSON array at ``ref`` (NULL when not JSON)."""
        col, path = _split(ref, self.columns)
        if col is None:
            raise self.missing(ref, key, self.columns)
        self.used_columns.add(col)
        c = f"r.{q(col)}"
        return (
            f"CASE WHEN json_valid({c}) THEN json_extract({c}, {lit(_json_path(path) + '[*]')}) END"
        )

    def missing(self, ref: str, key: str, columns: list[str]) -> MappingFileError:
        shown = ", ".join(columns[:30]) + (" …" if len(columns) > 30 else "")
        return MappingFileError(
            self.file, key, f"no column {ref!r} in {self.data} (columns: {shown})"
        )


def _json_path(rest: str) -> str:
    return "$" + (rest if rest.startswith(("[", ".")) or not rest else "." + rest)


def _split(ref: str, columns: list[str]) -> tuple[str | None, str]:
    if ref in columns:
        return ref, ""
    for m in re.finditer(r"[.\[]", ref):
        head = ref[: m.start()]
        if head in columns:
            return head, ref[m.start() :]
    return None, ""


def _column_or_path(
    alias: str, ref: str, columns: list[str], scope: Scope, key: str, lookup: str | None
) -> str:
    col, path = _split(ref, columns)
    if col is None and scope.absent(lookup):
        return "NULL::VARCHAR"
    if col is None:
        raise scope.missing(f"{lookup}.{ref}" if lookup else ref, key, columns)
    if lookup is None:
        scope.used_columns.add(col)
    sql = f"{alias}.{q(col)}"
    if not path:
        return sql
    return (
        f"CASE WHEN json_valid({sql}) THEN json_extract_string({sql}, {lit(_json_path(path))}) END"
    )


def source_sql(v: Value, scope: Scope) -> str:
    """The value as text before maps and types."""
    if v.const is not None:
        return lit(v.const)
    if v.template is not None:
        parts = []
        for literal, ref in v.template:
            if literal:
                parts.append(lit(literal))
            if ref is not None:
                parts.append(scope.ref(ref, v.key))
        return "(" + " || ".join(parts) + ")"
    refs = [scope.ref(r, v.key) for r in v.refs]
    return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"


def mapped_sql(v: Value, scope: Scope) -> tuple[str, str | None]:
    """(the value as text after lower/map/default, SQL true when a map had no entry)."""
    src = source_sql(v, scope)
    if v.pattern is not None:
        group = 1 if re.compile(v.pattern).groups else 0
        src = f"nullif(regexp_extract({src}, {lit(v.pattern)}, {group}), '')"
    if v.otherwise is not None:
        src = f"coalesce({src}, {mapped_sql(v.otherwise, scope)[0]})"
    if v.lower:
        src = f"lower({src})"
    if v.upper:
        src = f"upper({src})"
    if v.map is None:
        return (src if v.default is None else f"coalesce({src}, {lit(v.default)})"), None
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(val)}" for k, val in v.map.items())
    fallback = lit(v.default) if v.default is not None else "NULL"
    miss = None
    if v.default is None:
        keys = ", ".join(lit(k) for k in v.map)
        miss = f"({src} IS NOT NULL AND {src} NOT IN ({keys}))"
    return f"(CASE {src} {cases} ELSE {fallback} END)", miss


def time_sql(v: Value, raw: str, scope: Scope) -> str:
    """Parse text ``raw`` per the value's format and zone into a UTC TIMESTAMP."""
    if v.latest:  # latest_of: each parsed alone, the latest kept
        one = replace(v, latest=False, refs=())
        return (
            "greatest(" + ", ".join(time_sql(one, scope.ref(r, v.key), scope) for r in v.refs) + ")"
        )
    out = parsed_sql(v, raw)
    if v.plus:
        p = scope.ref(v.plus, v.key)
        out = f"({out} + coalesce(try_cast({p} AS INTERVAL), to_seconds(try_cast({p} AS DOUBLE))))"
    return out


def parsed_sql(v: Value, raw: str, floor: bool = True) -> str:
    """Text ``raw`` as a UTC TIMESTAMP per the value's format and zone (no ``plus``);
    ``floor``: NULL before the field's ``not_before`` (formats.py)."""
    fmt, zone = v.format, v.zone
    if fmt in ("epoch", "epoch_ms"):
        out = numeric_time_sql(v, raw, floor)
        out = _end_of_day(out) if v.end_of_day else out
    elif fmt == "excel":  # wall-clock time, as a strftime format's
        naive = numeric_time_sql(v, raw, floor)
        naive = _end_of_day(naive) if v.end_of_day else naive
        out = naive if zone is None else f"CAST(timezone({lit(zone)}, {naive}) AS TIMESTAMP)"
    elif fmt.startswith("snowflake"):
        epoch = int(fmt.partition(":")[2] or TWITTER_EPOCH_MS)
        ms = f"((try_cast({raw} AS BIGINT) >> 22) + {epoch})"
        out = f"CAST(to_timestamp({ms} / 1000.0) AS TIMESTAMP)"
        out = _end_of_day(out) if v.end_of_day else out
    elif fmt == "iso":
        aware = f"CAST(try_cast({raw} AS TIMESTAMPTZ) AS TIMESTAMP)"
        if zone is None:
            out = _end_of_day(aware) if v.end_of_day else aware
        else:
            naive = f"try_cast({raw} AS TIMESTAMP)"
            naive = _end_of_day(naive) if v.end_of_day else naive
            local = f"CAST(timezone({lit(zone)}, {naive}) AS TIMESTAMP)"
            aware = _end_of_day(aware) if v.end_of_day else aware
            out = f"(CASE WHEN regexp_matches({raw}, {lit(OFFSET)}) THEN {aware} ELSE {local} END)"
    elif "%z" in fmt or "%Z" in fmt:
        out = f"CAST(try_strptime({raw}, {lit(fmt)}) AS TIMESTAMP)"
        out = _end_of_day(out) if v.end_of_day else out
    else:
        naive = f"CAST(try_strptime({raw}, {lit(fmt)}) AS TIMESTAMP)"
        naive = _end_of_day(naive) if v.end_of_day else naive
        out = naive if zone is None else f"CAST(timezone({lit(zone)}, {naive}) AS TIMESTAMP)"
    return floored(v, out) if floor else out


def _end_of_day(ts: str) -> str:
    return f"(CAST(CAST({ts} AS DATE) AS TIMESTAMP) + INTERVAL 1 DAY - INTERVAL 1 SECOND)"


def format_hint(v: Value) -> str:
    hint = FORMAT_HINTS.get(v.format, f"format {v.format}")
    return hint + (f", zone {v.zone}" if v.zone else "")


def number_sql(raw: str, v: Value) -> str:
    return formats.number_sql(raw, v.decimal, v.thousands)


def time_reason_sql(v: Value, raw: str) -> str:
    """Why the time in column ``raw`` did not load (SQL, for the quarantined rows)."""
    return formats.time_reason_sql(v, raw, format_hint(v), parsed_sql(v, raw, floor=False))


def typed_sql(v: Value, raw: str, scope: Scope) -> str:
    """An attribute's value in its declared type (NULL when it does not parse)."""
    if v.type == "number":
        return number_sql(raw, v)
    if v.type == "integer":
        return f"try_cast({number_sql(raw, v)} AS BIGINT)"
    if v.type == "boolean":
        return f"try_cast({raw} AS BOOLEAN)"
    if v.type == "json":
        return f"(CASE WHEN json_valid({raw}) THEN CAST({raw} AS JSON) END)"
    if v.type == "time":
        return f"strftime({time_sql(v, raw, scope)}, '%Y-%m-%dT%H:%M:%S')"
    return raw
