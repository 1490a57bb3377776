"""Corrections: retracting an ingest run and erasing a person (``cxloop ingest revert``,
``cxloop forget``).

* ``retractions``: one row per retracted run (who, when, how many events and quarantine
  rows, the log version after it, the run's files as JSON); append-only.
* ``erasures``: one row per erasure (a random erasure id, who, when, counts as JSON; never
  the person's id, address or texts); append-only.
* ``quarantine.retracted_at``: set on the quarantine rows of a retracted run.
* The audit log stays append-only with one controlled exception: an UPDATE that changes
  nothing but ``detail``, from a normal entry to ``{"erased": "<erasure_id>"}`` of a
  recorded erasure, is allowed (that is how ``forget`` removes a person's notes from the
  audit; the entry's time, actor, action, case and amount stay). Every other UPDATE, every
  DELETE (and TRUNCATE on PostgreSQL) is still refused.

Revision ID: 0005_corrections
Revises: 0004_web_sessions
"""

from __future__ import annotations

from alembic import op

from cxloop.store.migrations import run

revision = "0005_corrections"
down_revision = "0004_web_sessions"
branch_labels = None
depends_on = None

_INT = {"sqlite": "INTEGER", "postgresql": "BIGINT"}

TABLES = {
    "retractions": """
    ingest_id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    events {int} NOT NULL,
    quarantine_rows {int} NOT NULL,
    log_version {int} NOT NULL,
    files TEXT NOT NULL
""",
    "erasures": """
    erasure_id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    counts TEXT NOT NULL
""",
}
APPEND_ONLY = {
    "retractions": "retractions are append-only",
    "erasures": "erasures are append-only",
}
_MESSAGE = "the audit log is append-only"
#: the one UPDATE of an audit entry that is allowed (``{n}``: NEW, ``{o}``: OLD)
_SAME = ("audit_id", "at", "actor", "role", "action", "case_id", "remedy", "amount")
_ERASED = """'{{"erased": "' || e.erasure_id || '"}}'"""


def _redaction(dialect: str) -> str:
    same = " IS " if dialect == "sqlite" else " IS NOT DISTINCT FROM "
    cols = " AND ".join(f"NEW.{c}{same}OLD.{c}" for c in (*_SAME, "policy_version"))
    return (
        f"{cols} AND OLD.detail NOT LIKE '{{\"erased\": %' AND EXISTS (SELECT 1 FROM "
        f"erasures e WHERE NEW.detail = {_ERASED.format()})"
    )


def statements(dialect: str) -> list[str]:
    out = [
        f"CREATE TABLE IF NOT EXISTS {name} ({body.format(int=_INT[dialect])})"
        for name, body in TABLES.items()
    ]
    out.append("ALTER TABLE quarantine ADD COLUMN retracted_at TEXT")
    if dialect == "sqlite":
        for table, message in APPEND_ONLY.items():
            for verb in ("update", "delete"):
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} "
                    f"ON {table}\nBEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
        out.append("DROP TRIGGER IF EXISTS audit_no_update")
        out.append(
            "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN NOT "
            f"({_redaction(dialect)})\nBEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
        return out
    for table, message in APPEND_ONLY.items():
        for verb, each in (("update", "ROW"), ("delete", "ROW"), ("truncate", "STATEMENT")):
            out.append(
                f"CREATE OR REPLACE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
                f"FOR EACH {each} EXECUTE FUNCTION cx_append_only('{message}')"
            )
    out.append(
        "CREATE OR REPLACE FUNCTION cx_audit_redact_only() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$\nBEGIN\n    IF {_redaction(dialect)} THEN\n        RETURN NEW;\n    END IF;\n"
        f"    RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';\n"
        "END\n$$"
    )
    out.append(
        "CREATE OR REPLACE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW "
        "EXECUTE FUNCTION cx_audit_redact_only()"
    )
    return out


def upgrade() -> None:
    bind = op.get_bind()
    for sql in statements(bind.dialect.name):
        run(bind, sql)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        bind.exec_driver_sql("DROP TRIGGER IF EXISTS audit_no_update")
        bind.exec_driver_sql(
            "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
    else:
        bind.exec_driver_sql(
            "CREATE OR REPLACE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW "
            f"EXECUTE FUNCTION cx_append_only('{_MESSAGE}')"
        )
        bind.exec_driver_sql("DROP FUNCTION IF EXISTS cx_audit_redact_only()")
    bind.exec_driver_sql("ALTER TABLE quarantine DROP COLUMN retracted_at")
    for name in reversed(list(TABLES)):
        bind.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
