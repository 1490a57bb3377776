"""``cx_attr_number`` and ``cx_attr_time`` on PostgreSQL: an attribute as a number or a
time, NULL when it is not one (as ``TRY_CAST`` on DuckDB and ``try_cast`` on Spark).

Ibis compiles ``try_cast`` to a plain ``CAST`` on PostgreSQL, so one malformed value would
abort a whole ledger build; these are SQL functions (the planner inlines them) that check
the text's shape before casting. The time check covers ISO 8601 dates and times; a
trailing ``Z`` or offset is accepted and, as DuckDB's and Spark's casts do, not applied
(cxloop writes times in UTC). A well-formed but impossible date (February 30th) still
raises. PostgreSQL only (a no-op on SQLite).

Revision ID: 0003_attr_casts
Revises: 0002_event_log
"""

from __future__ import annotations

from alembic import op

from cxloop.store.migrations import run

revision = "0003_attr_casts"
down_revision = "0002_event_log"
branch_labels = None
depends_on = None

NUMBER = r"^\s*[-+]?(\d{1,250}(\.\d*)?|\.\d+)([eE][-+]?\d{1,2})?\s*$"
TIME = (
    r"^\s*\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[-+]\d\d(:?\d\d)?)?)?\s*$"
)


def statements() -> list[str]:
    # one SELECT of one expression, and no more volatile than declared: PostgreSQL inlines
    # such a function into the query (a FROM in the body, or an IMMUTABLE declaration over
    # the STABLE text-to-timestamp cast, would make it a call per row)
    value = "cx_attr(a, k)"
    return [
        "CREATE OR REPLACE FUNCTION cx_attr_number(a text, k text) RETURNS double precision "
        f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN {value} ~ "
        f"'{NUMBER}' THEN ({value})::double precision END $$",
        "CREATE OR REPLACE FUNCTION cx_attr_time(a text, k text) RETURNS timestamp "
        f"LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT CASE WHEN {value} ~ "
        f"'{TIME}' THEN ({value})::timestamp END $$",
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
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS cx_attr_time(text, text)")
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS cx_attr_number(text, text)")
