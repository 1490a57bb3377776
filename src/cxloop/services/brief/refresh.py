"""The refresh after a write: what the brief and the dashboard's first page need, computed
before anyone asks (docs/refresh.md).

After an ingest (the library's ``Cxloop.ingest``, ``cxloop ingest``), a revert or a
``forget``, :func:`refresh` computes the first page's figures (the brief, the promise kept
rate, NPS by month, the systemic failures) and keeps each one on disk under
``HOME/voice/warm-*.pkl``, keyed by a :func:`fingerprint` of everything it was computed
from: the log version, the operational state the brief reads (cases, brief actions,
incidents, outreach sends, approvals), the store's clock, the settings and the cxloop
version. The voice models it needs are cached on their own (embeddings by text, so only
texts not seen before are embedded; topics and the learned sentiment by their texts), and
the brief fits them, so ``voice topics`` after a refresh reads them.

The server (:class:`cxloop.api.runtime.Runtime`) looks an entry up here before computing
it, and its background warmer calls the same computations when the log version changes,
so the first request after an ingest finds its answer ready. ``forget`` deletes these
files with the other voice artifacts (they name customers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cxloop.serialize import clean
from cxloop.services.brief.overview import incident_alerts, nps_by_month, promise_figures
from cxloop.settings import Settings
from cxloop.store.artifacts import Artifacts
from cxloop.version import __version__
from cxloop.workspace.workspace import Workspace

log = logging.getLogger("cxloop.refresh")
Name = tuple[Any, ...]
Progress = Callable[[str], None]

#: The operational state the brief and the first page read (the rest is the log).
STATE_TABLES = ("cases", "brief_actions", "incidents", "outreach_sends", "approvals")
#: Settings that do not change a figure (who runs a command, the server's limits, secrets).
VOLATILE = frozenset(
    {"home", "actor", "role", "lock_timeout", "session_hours", "max_body_mb", "api_key"}
    | {"smtp_password", "webhook_secret", "refresh", "refresh_poll"}
    | {"voice_threads"}  # how fast the text models run, not what they find
)
#: In ``wall`` clock mode the as-of is taken to this many minutes (the answer says it).
WALL_MINUTES = 10


def _brief(ws: Workspace) -> dict[str, Any]:
    from cxloop.services.brief import daily as brief_service

    return clean(brief_service.brief(ws))  # type: ignore[no-any-return]


#: The first page's entries, under the names the server's cache uses; the brief first (it
#: records the incidents it finds, which the alerts then list).
FIRST_PAGE: dict[Name, Callable[[Workspace], Any]] = {
    ("brief",): _brief,
    ("dash_promises",): promise_figures,
    ("voice_scores", "month", "nps", None): nps_by_month,
    ("dash_incidents",): incident_alerts,
}


@dataclass
class Refreshed:
    """What a refresh did: each entry computed (with its seconds) or found ready."""

    log_version: int
    fingerprint: str
    computed: dict[str, float] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def state_digest(ws: Workspace) -> str:
    """sha256 of the rows of :data:`STATE_TABLES` (what a brief reads besides the log)."""
    h = hashlib.sha256()
    with ws.state.connect() as con:
        for table in STATE_TABLES:
            h.update(table.encode())
            for row in con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall():
                h.update(repr(list(dict(row).values())).encode())
    return h.hexdigest()[:16]


def settings_digest(settings: Settings) -> str:
    kept = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if f.name not in VOLATILE
    }
    return Artifacts.key(**kept)


def as_of(ws: Workspace) -> str:
    """The store's now as the cache sees it (``wall`` mode: to :data:`WALL_MINUTES`)."""
    now = ws.clock.now()
    if ws.settings.clock == "wall":
        now = now.replace(minute=now.minute // WALL_MINUTES * WALL_MINUTES, second=0)
    return now.isoformat()


def fingerprint(ws: Workspace) -> str:
    """What an entry was computed from: log version, state, clock, settings, code."""
    return Artifacts.key(
        v=int(ws.log.version),
        state=state_digest(ws),
        now=as_of(ws),
        settings=settings_digest(ws.settings),
        code=__version__,
    )


def _file(name: Name) -> str:
    return "warm-" + Artifacts.key(name=list(name))


def _artifacts(ws: Workspace) -> Artifacts:
    return Artifacts(ws.home / "voice")  # forget deletes every voice artifact but embeddings


def lookup(ws: Workspace, name: Name, key: str | None = None) -> Any | None:
    """The entry ``name`` computed for the store as it is now (``key``: its fingerprint,
    when known), or None."""
    return _artifacts(ws).get(_file(name), key or fingerprint(ws))


def remember(ws: Workspace, name: Name, value: Any, key: str | None = None) -> None:
    """Keep ``value`` as the entry ``name`` for the store as it is now."""
    _artifacts(ws).put(_file(name), key or fingerprint(ws), value)


def refresh(
    ws: Workspace, names: Iterable[Name] | None = None, progress: Progress | None = None
) -> Refreshed:
    """Compute every first-page entry (or ``names``) not ready for the store as it is now,
    and keep them. An entry that fails is reported in ``failed`` (it is computed when
    asked instead); the others are kept."""
    started = time.perf_counter()
    chosen = list(FIRST_PAGE if names is None else names)
    before = fingerprint(ws)
    done = Refreshed(int(ws.log.version), before)
    values: dict[Name, Any] = {}
    for name in chosen:
        if lookup(ws, name, before) is not None:
            done.reused.append(name[0])
            continue
        if progress:
            progress(f"refreshing {name[0]}…")
        t = time.perf_counter()
        try:
            values[name] = FIRST_PAGE[name](ws)
        except Exception as exc:
            log.warning("refresh: %s failed: %s", name[0], exc)
            done.failed[name[0]] = f"{type(exc).__name__}: {exc}"
            continue
        done.computed[name[0]] = round(time.perf_counter() - t, 3)
    # the brief records the incidents it finds: key the entries by the state after that
    after = fingerprint(ws) if values else before
    for name, value in values.items():
        remember(ws, name, value, after)
    if after != before:  # entries found ready under the old state are kept under the new
        for name in chosen:
            if name not in values and name[0] not in done.failed:
                remember(ws, name, FIRST_PAGE[name](ws), after)
    done.fingerprint = after
    done.seconds = round(time.perf_counter() - started, 3)
    return done


def refresh_enabled(ws: Workspace, asked: bool | None = None) -> bool:
    """``asked`` (``--refresh/--no-refresh``) when given, else the ``refresh`` setting."""
    return ws.settings.refresh if asked is None else asked
