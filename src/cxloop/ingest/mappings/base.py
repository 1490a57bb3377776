"""The mapping protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb

from cxloop.store.state import Problem


@dataclass(frozen=True)
class Staged:
    """What a mapping produced: a DuckDB table of log rows, plus the bad rows."""

    table: str
    rows_read: int
    problems: list[Problem]
    #: what may be wrong beyond the rows (e.g. a date format's day and month swapped)
    warnings: list[str] = field(default_factory=list)


class Mapping(Protocol):
    name: str
    description: str

    def inputs(self, path: Path) -> list[Path]:
        """The files this mapping will read for ``path`` (hashed for lineage)."""
        ...

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, staged: str) -> Staged:
        """Read ``path`` and create temp table ``staged`` with the log columns."""
        ...
