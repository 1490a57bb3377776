"""Alembic migrations of the operational state (run by :func:`cxloop.store.db.migrate`)."""

from __future__ import annotations

from typing import Any


def run(bind: Any, sql: str) -> None:
    """One DDL statement on the migration's connection, as written (psycopg reads ``%``
    as a placeholder even without parameters: doubled here)."""
    if bind.dialect.name == "postgresql":
        sql = sql.replace("%", "%%")
    bind.exec_driver_sql(sql)
