"""The event log in PostgreSQL: ``cx_events``, its version ``cx_log`` and ``cx_attr``.

PostgreSQL only (a no-op on SQLite, whose store keeps the log as Parquet segments).
The columns are :data:`cxloop.domain.events.LOG_COLUMNS` at this revision, in order
(frozen here; a test checks they still match). ``cx_attr(attrs, key)`` is the engine
function the analytics read attributes with (``attrs`` is a JSON object as text).

Revision ID: 0002_event_log
Revises: 0001_baseline
"""

from __future__ import annotations

from alembic import op

from cxloop.store.migrations import run

revision = "0002_event_log"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

PG_TYPES = {
    "string": "TEXT",
    "timestamp": "TIMESTAMP",
    "float64": "DOUBLE PRECISION",
    "int64": "BIGINT",
}

#: (name, dtype) of every log column at this revision, in log order
COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "string"),
    ("customer_id", "string"),
    ("event_type", "string"),
    ("ts", "timestamp"),
    ("department", "string"),
    ("channel", "string"),
    ("ref", "string"),
    ("amount", "float64"),
    ("due_at", "timestamp"),
    ("attrs", "string"),
    ("source", "string"),
    ("source_file", "string"),
    ("source_row", "int64"),
    ("ingest_id", "string"),
    ("content_hash", "string"),
)


def statements() -> list[str]:
    cols = ",\n    ".join(
        f"{name} {PG_TYPES[dtype]}" + (" NOT NULL" if name == "event_id" else "")
        for name, dtype in COLUMNS
    )
    return [
        f"CREATE TABLE cx_events (\n    {cols},\n    PRIMARY KEY (event_id)\n)",
        "CREATE INDEX cx_events_customer_ts ON cx_events (customer_id, ts)",
        "CREATE INDEX cx_events_type_ts ON cx_events (event_type, ts)",
        "CREATE TABLE cx_log (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
        "INSERT INTO cx_log (id, version) VALUES (1, 0)",
        "CREATE OR REPLACE FUNCTION cx_attr(a text, k text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (a::jsonb) ->> k $$",
    ]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for sql in statements():
        run(bind, sql)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS cx_attr(text, text)")
    bind.exec_driver_sql("DROP TABLE IF EXISTS cx_log")
    bind.exec_driver_sql("DROP TABLE IF EXISTS cx_events")
