"""Server-side dashboard sessions: the sign-in cookie holds a random session token, never
the API key. Only a digest of the token is stored, with the key it was opened with, its
CSRF token, when it expires and when it was ended (logout or the key's revocation).

Revision ID: 0004_web_sessions
Revises: 0003_attr_casts
"""

from __future__ import annotations

from alembic import op

from cxloop.store.migrations import run

revision = "0004_web_sessions"
down_revision = "0003_attr_casts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    run(
        bind,
        """CREATE TABLE IF NOT EXISTS web_sessions (
    session_sha256 TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
)""",
    )
    run(bind, "CREATE INDEX IF NOT EXISTS web_sessions_key ON web_sessions (key_id)")


def downgrade() -> None:
    run(op.get_bind(), "DROP TABLE IF EXISTS web_sessions")
