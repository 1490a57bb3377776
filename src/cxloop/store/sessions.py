"""Dashboard sessions (in the operational state).

Signing in with an API key opens a session: the browser's cookie holds a random session
token (32 bytes), never the key. Only the token's SHA-256 digest is stored, beside the key
it was opened with, a CSRF token for the session's forms, and when it expires. A session
ends at logout, at its expiry, or when its key is revoked (checked on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cxloop.store.state import StateDB

PREFIX = "cxs"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Session:
    """A live session: the key it acts as and the token its forms must carry."""

    key_id: str
    csrf: str
    expires_at: str

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, str(sent))


class Sessions:
    def __init__(self, state: StateDB) -> None:
        self.state = state

    def open(self, key_id: str, ttl_seconds: float) -> tuple[str, Session]:
        """A new session for ``key_id``; returns (cookie token, session)."""
        token = f"{PREFIX}_{secrets.token_urlsafe(32)}"
        csrf = secrets.token_urlsafe(24)
        now = _now()
        expires = _iso(now + timedelta(seconds=ttl_seconds))
        with self.state.connect() as con:
            con.execute(
                "INSERT INTO web_sessions (session_sha256, key_id, csrf, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (_digest(token), key_id, csrf, _iso(now), expires),
            )
            # expired sessions are of no use to anyone: drop them as new ones open
            con.execute(
                "DELETE FROM web_sessions WHERE expires_at < ? OR ended_at IS NOT NULL",
                (_iso(now - timedelta(days=1)),),
            )
        return token, Session(key_id, csrf, expires)

    def find(self, token: str) -> Session | None:
        """The live session behind ``token``, or None (unknown, ended or expired)."""
        if not token.startswith(PREFIX + "_") or len(token) > 200:
            return None
        with self.state.connect() as con:
            row = con.execute(
                "SELECT key_id, csrf, expires_at, ended_at FROM web_sessions"
                " WHERE session_sha256 = ?",
                (_digest(token),),
            ).fetchone()
        if row is None or row["ended_at"] is not None or row["expires_at"] <= _iso(_now()):
            return None
        return Session(row["key_id"], row["csrf"], row["expires_at"])

    def end(self, token: str) -> bool:
        """End the session behind ``token`` (logout); False if none was live."""
        with self.state.connect() as con:
            cur = con.execute(
                "UPDATE web_sessions SET ended_at = ?"
                " WHERE session_sha256 = ? AND ended_at IS NULL",
                (_iso(_now()), _digest(token)),
            )
            return bool(cur.rowcount)

    def end_all(self, key_id: str) -> int:
        """End every session opened with ``key_id`` (its key was revoked)."""
        with self.state.connect() as con:
            cur = con.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE key_id = ? AND ended_at IS NULL",
                (_iso(_now()), key_id),
            )
            return int(cur.rowcount)
