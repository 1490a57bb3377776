"""The shape of the access answer (``/me``): see :mod:`cxloop.api.models`. The voice (C5)
and outreach (C4) answers are :mod:`cxloop.results.voice` and :mod:`cxloop.results.outreach`."""

from __future__ import annotations

from cxloop.api.models import Out


class Me(Out):
    """The caller's key."""

    key_id: str
    name: str
    role: str
    grant_as: str | None
    """The empowerment policy's role this key grants as (null: it may not grant)."""
    may: list[str]
    """The permissions of the key's role."""
