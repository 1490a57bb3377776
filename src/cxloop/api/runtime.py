"""What a running server holds: the settings, one workspace per worker thread, the
policy, and a small cache for the expensive reports (brief, voice).

Requests run in a thread pool; each thread opens its own :class:`Workspace` (its own
DuckDB connection over the same files), so requests never share a connection. The
cache key is the event-log version plus a generation that every write through this
server bumps; writes from other processes (the CLI) show after at most ``ttl`` seconds.
Only one thread computes a given entry at a time; the others wait for its result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cxloop.domain.policy import Policy
from cxloop.services.policy import load_policy
from cxloop.services.workspace import Workspace
from cxloop.settings import Settings
from cxloop.store.keys import ApiKeys

T = TypeVar("T")


class Runtime:
    def __init__(self, settings: Settings, ttl: float = 60.0) -> None:
        self.settings = settings
        self.ttl = ttl
        self._local = threading.local()
        self._all: list[Workspace] = []
        self._guard = threading.Lock()
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self.generation = 0
        first = self.workspace()  # create the store and its tables before serving
        ApiKeys(first.state)
        self.policy: Policy = load_policy(settings.policy)

    def workspace(self) -> Workspace:
        ws: Workspace | None = getattr(self._local, "ws", None)
        if ws is None:
            ws = Workspace(self.settings)
            self._local.ws = ws
            with self._guard:
                self._all.append(ws)
        return ws

    def wrote(self) -> None:
        """Something changed through this server: cached reports are out of date."""
        with self._guard:
            self.generation += 1
            self._cache.clear()

    def cached(self, name: tuple[Any, ...], compute: Callable[[], T]) -> T:
        key = (*name, self.workspace().log.version, self.generation)
        with self._guard:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]  # type: ignore[no-any-return]
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            with self._guard:
                hit = self._cache.get(key)
                if hit is not None and hit[0] > time.monotonic():
                    return hit[1]  # type: ignore[no-any-return]
            value = compute()
            with self._guard:
                stale = [k for k in self._cache if k[: len(name)] == name]
                for k in stale:
                    del self._cache[k]
                self._cache[key] = (time.monotonic() + self.ttl, value)
            return value

    def close(self) -> None:
        with self._guard:
            for ws in self._all:
                ws.close()
            self._all.clear()
