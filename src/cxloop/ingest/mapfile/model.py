"""The parts of a mapping file, as plain frozen dataclasses (parsed by spec.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cxloop.errors import ConfigError

CANONICAL: tuple[str, ...] = ("event_id", "customer_id", "event_type", "ts", "department")
CANONICAL += ("channel", "ref", "amount", "due_at")
REQUIRED = ("customer_id", "event_type", "ts")
FORMATS = ("csv", "json", "jsonl", "parquet")
TYPES = ("text", "number", "integer", "boolean", "json", "time")
VALUE_KEYS = {
    "column",
    "template",
    "value",
    "first_of",
    "map",
    "default",
    "format",
    "zone",
    "plus",
    "end_of_day",
    "type",
    "decimal",
    "lower",
    "pattern",
    "otherwise",
    "upper",
    "latest_of",
    "thousands",
    "not_before",
}
AGGREGATES = ("count", "sum", "min", "max", "list")
CONDITION_OPS = ("equals", "not_equals", "in", "not_in", "present")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class MappingFileError(ConfigError):
    """A mapping file is invalid: names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")
        self.file, self.key, self.problem = file, key, problem


@dataclass(frozen=True)
class Value:
    """Where one output field comes from (exactly one of refs/template/const)."""

    key: str  # its place in the file, for messages
    refs: tuple[str, ...] = ()  # one column / path, or several: the first not empty
    template: tuple[tuple[str, str | None], ...] | None = None  # (literal, ref) parts
    const: str | None = None
    map: dict[str, str] | None = None
    default: str | None = None
    format: str = "iso"  # times: iso, epoch, epoch_ms, excel, snowflake or a strptime format
    zone: str | None = None
    plus: str | None = None
    end_of_day: bool = False
    type: str = "text"
    decimal: str = "."
    lower: bool = False
    pattern: str | None = None
    otherwise: Value | None = None  # used when this one is empty
    upper: bool = False
    latest: bool = False  # refs are times: the latest of them
    thousands: str = " "  # numbers: the thousands separators accepted (groups of 3 digits)
    not_before: str | None = None  # times: the earliest accepted (YYYY-MM-DD)

    def columns(self) -> list[str]:
        parts = [r for _, r in self.template or () if r is not None]
        more = self.otherwise.columns() if self.otherwise else []
        return [*self.refs, *parts, *([self.plus] if self.plus else []), *more]


@dataclass(frozen=True)
class Condition:
    ref: str
    op: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    header: bool = True
    skip: int = 0


@dataclass(frozen=True)
class InputSpec:
    name: str
    file: str | None
    format: str | None
    records: str | None
    csv: CsvDialect
    optional: bool = False


@dataclass(frozen=True)
class Lookup:
    name: str
    input: str
    key: str  # column of the looked-up input
    match: str  # reference on the event's row
    required: bool
    loaded_only: bool = False  # rows quarantined by earlier [[events]] tables do not match
    aggregate: dict[str, Aggregate] = field(default_factory=dict)


@dataclass(frozen=True)
class Aggregate:
    """One value per key over the looked-up rows: count, sum, min, max or list."""

    fn: str
    of: tuple[Value, ...]


@dataclass(frozen=True)
class Requirement:
    """A row check: where ``when`` holds, ``condition`` must hold, else ``reason``."""

    condition: Condition
    when: Condition | None
    reason: str


@dataclass(frozen=True)
class EventSpec:
    name: str
    key: str
    input: str
    each: str | None
    alias: str
    when: tuple[Condition, ...]
    fields: dict[str, Value]
    attrs: dict[str, Value]
    attrs_rest: bool
    require: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class MapSpec:
    file: str
    name: str
    description: str
    inputs: dict[str, InputSpec]
    lookups: dict[str, Lookup]
    events: tuple[EventSpec, ...]
    params: dict[str, str | None] = field(default_factory=dict)  # None: must be given
    unmatched: str = "quarantine"  # a row no [[events]] table takes: quarantine or skip
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
