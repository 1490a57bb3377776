"""Departments and channels as configuration: the known values and what to do with others.

The ingest service puts the configured lists into the DuckDB session (variables); the
row checks read them there, so every mapping (generic, built-in, mapping files) applies
the same vocabulary. ``accept`` (the default) loads any value, normalised (trimmed,
lower case, inner spaces collapsed); ``refuse`` quarantines a value not in the list and
names the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from cxloop.ingest.staging import Check, lit

MODES = ("accept", "refuse")


@dataclass(frozen=True)
class Vocabulary:
    departments: tuple[str, ...]
    unknown_departments: str = "accept"
    channels: tuple[str, ...] = ()
    unknown_channels: str = "accept"

    def apply(self, con: duckdb.DuckDBPyConnection) -> None:
        for name, values, mode in (
            ("departments", self.departments, self.unknown_departments),
            ("channels", self.channels, self.unknown_channels),
        ):
            items = ", ".join(lit(normalise_text(v)) for v in values) or "NULL"
            con.execute(f"SET VARIABLE cx_{name} = [{items}]::VARCHAR[]")
            con.execute(f"SET VARIABLE cx_{name}_mode = {lit(mode)}")


def normalise_text(value: str) -> str:
    return " ".join(value.split()).lower()


def normalise_sql(sql: str) -> str:
    """The SQL twin of :func:`normalise_text` (NULL when empty)."""
    return f"nullif(lower(regexp_replace(trim({sql}), '\\s+', ' ', 'g')), '')"


def vocabulary_checks(
    dept: str = "department",
    channel: str = "channel",
    field_dept: str = "department",
    field_channel: str = "channel",
) -> list[Check]:
    """Row checks for a refusing vocabulary (no check at all in accept mode)."""
    checks = []
    for name, col, field in (
        ("departments", dept, field_dept),
        ("channels", channel, field_channel),
    ):
        known = f"getvariable('cx_{name}')"
        singular = name[:-1]
        checks.append(
            Check(
                field,
                f"{col} IS NOT NULL AND coalesce(getvariable('cx_{name}_mode'), 'accept') = "
                f"'refuse' AND NOT list_contains({known}, {col})",
                f"'unknown {singular} ' || {col} || ' (configured {name}: ' || "
                f"array_to_string({known}, ', ') || '; set unknown_{name} = accept to load it)'",
                col,
            )
        )
    return checks
