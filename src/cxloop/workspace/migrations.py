"""The store's operational state and its schema: which revision it is at, and bringing it
to this cxloop's (``cxloop migrate``)."""

from __future__ import annotations

from cxloop.settings import Settings
from cxloop.store import db


def target(settings: Settings) -> db.Target:
    """The state's database: CXLOOP_DATABASE_URL, else HOME/state.sqlite."""
    return settings.database_url or settings.home / "state.sqlite"


def where(settings: Settings) -> dict[str, str]:
    """The store (its password redacted), its backend and the head revision."""
    found = target(settings)
    return {"store": db.redact(found), "backend": db.dialect_of(found), "head": db.HEAD}


def current_revision(settings: Settings) -> str | None:
    return db.current_revision(target(settings))


def migrate(settings: Settings) -> tuple[str | None, str | None]:
    """Apply the migrations; the revision before and after."""
    return db.migrate(target(settings))
