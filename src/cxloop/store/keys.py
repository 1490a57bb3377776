"""API keys (in the operational state): who may call the API, in which role.

Only a SHA-256 digest of each key's secret is stored. Keys are 32 random bytes, so a
fast digest is enough (there is nothing to brute-force as with a password); the
plain key is shown once, when it is created. A revoked key stays in the table (with
``revoked_at``) so the audit trail keeps its name.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from cxloop.errors import NotFoundError
from cxloop.store.db import OperationalError
from cxloop.store.sessions import Sessions
from cxloop.store.state import StateDB

PREFIX = "cxk"
LAST_USED_EVERY = 60.0  # seconds: last_used_at is refreshed at most this often


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(token: str) -> tuple[str, str] | None:
    """``cxk_<key_id>_<secret>`` -> (key_id, secret), or None if it is not shaped so."""
    parts = token.strip().split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _now(timespec: str = "seconds") -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec=timespec)


class ApiKeys:
    def __init__(self, state: StateDB, *, create: bool = True) -> None:
        """``create`` is kept for callers: the migrations create the table."""
        self.state = state

    def create(self, name: str, role: str, grant_as: str | None, created_by: str) -> str:
        """Store a new key; returns the plain key (the only time it exists in full). Its
        ``created_at`` has microseconds: keys made within one second list in the order
        they were made."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        with self.state.connect() as con:
            con.execute(
                "INSERT INTO api_keys (key_id, name, role, grant_as, secret_sha256, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id, name, role, grant_as, digest(secret), _now("microseconds"), created_by),
            )
        return f"{PREFIX}_{key_id}_{secret}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The key's row if ``token`` is a live key, else None (unknown, wrong or revoked)."""
        parts = split_key(token)
        if parts is None:
            return None
        key_id, secret = parts
        with self.state.kept() as con:  # every request: a connection kept open
            found_rows = con.execute(
                "SELECT * FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchall()  # all: the statement ends here (no read left open)
            row = found_rows[0] if found_rows else None
            if row is None or row["revoked_at"] is not None:
                return None
            if not hmac.compare_digest(row["secret_sha256"], digest(secret)):
                return None
            found = dict(row)
            now = datetime.now(UTC).replace(tzinfo=None)
            last = found["last_used_at"]
            if last is None or (now - datetime.fromisoformat(last)).total_seconds() > (
                LAST_USED_EVERY
            ):
                # busy: a usage timestamp is not worth failing a request for
                with contextlib.suppress(OperationalError):
                    con.execute(
                        "UPDATE api_keys SET last_used_at = ? WHERE key_id = ?",
                        (now.isoformat(timespec="seconds"), key_id),
                    )
        found.pop("secret_sha256")
        return found

    def revoke(self, key_id: str) -> dict[str, Any]:
        with self.state.connect() as con:
            cur = con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
            if cur.rowcount == 0:
                row = con.execute(
                    "SELECT revoked_at FROM api_keys WHERE key_id = ?", (key_id,)
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"no API key {key_id!r} (see `cxloop keys list`)")
        # the dashboard sessions opened with it end with it
        Sessions(self.state).end_all(key_id)
        return self.get(key_id)

    def get(self, key_id: str) -> dict[str, Any]:
        with self.state.connect() as con:
            row = con.execute(
                "SELECT key_id, name, role, grant_as, created_at, created_by, revoked_at,"
                " last_used_at FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no API key {key_id!r} (see `cxloop keys list`)")
        return dict(row)

    def list(self, include_revoked: bool = False) -> list[dict[str, Any]]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT key_id, name, role, grant_as, created_at, created_by, revoked_at,"
                " last_used_at FROM api_keys" + where + " ORDER BY created_at, key_id"
            ).fetchall()
        return [dict(r) for r in rows]
