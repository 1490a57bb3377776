"""Alembic environment: runs on the connection :func:`cxloop.store.db.migrate` opened.

No ``alembic.ini`` is needed: the caller passes its SQLAlchemy connection (already in
the transaction the whole upgrade runs in) as ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run cxloop's migrations with `cxloop migrate` (cxloop.store.db.migrate)")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
