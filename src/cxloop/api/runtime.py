"""What a running server holds: the settings, a pool of workspaces, the policy, and a
small cache for the expensive reports (brief, voice).

Requests run in a thread pool, and FastAPI may resolve a request's dependencies and run
its endpoint on different threads; so each request checks a :class:`Workspace` (its own
DuckDB connection over the same files) out of the pool for its whole life and gives it
back at the end: no two requests ever share a connection. The pool grows to the number
of requests in flight and keeps its workspaces for the next ones. The
cache key is the event-log version plus a generation that every write through this
server bumps; writes from other processes (the CLI) show once ``ttl`` seconds have passed
and a background refresh has finished. Only one thread computes a given entry at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from cxloop.client import Cxloop
from cxloop.domain.policy import Policy
from cxloop.library.edges import (
    FIRST_PAGE,
    Workspace,
    fingerprint,
    load_policy,
    lookup,
    prepare,
    remember,
)
from cxloop.settings import Settings

T = TypeVar("T")
log = logging.getLogger("cxloop.api")


class Runtime:
    def __init__(self, settings: Settings, ttl: float = 60.0) -> None:
        self.settings = settings
        self.ttl = ttl
        self._idle: list[Workspace] = []
        self._all: list[Workspace] = []
        self._guard = threading.Lock()
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self.generation = 0
        self._warmer: Warmer | None = None
        with self.checkout() as first:  # create the store and its tables before serving
            prepare(first)
        self.policy: Policy = load_policy(settings.policy, settings.currency)

    @contextmanager
    def checkout(self) -> Iterator[Workspace]:
        """A workspace for this caller alone until the block ends."""
        ws = self.idle() or self.open()
        try:
            yield ws
        finally:
            self.give_back(ws)

    def idle(self) -> Workspace | None:
        """An idle workspace of the pool, now the caller's alone (None: all are in use);
        it never blocks, so the event loop may call it (see :func:`cxloop.api.deps.workspace`)."""
        with self._guard:
            return self._idle.pop() if self._idle else None

    def open(self) -> Workspace:
        """A new workspace for the pool, the caller's alone (opens files: in a thread)."""
        ws = Workspace(self.settings)
        with self._guard:
            self._all.append(ws)
        return ws

    def give_back(self, ws: Workspace) -> None:
        with self._guard:
            self._idle.append(ws)

    def library(self, ws: Workspace) -> Cxloop:
        """The library over ``ws`` (a request's workspace) with the server's policy."""
        return Cxloop(ws, self.policy)

    def wrote(self) -> None:
        """Something changed through this server: cached reports are out of date."""
        with self._guard:
            self.generation += 1
            self._cache.clear()
        if self._warmer is not None:
            self._warmer.wake()

    def cached(self, name: tuple[Any, ...], compute: Callable[[Workspace], T], ws: Workspace) -> T:
        """``compute(workspace)``, or its earlier result for the same log version and
        generation (``ws``, the caller's workspace, tells the log version and computes a
        missing entry).

        One caller computes a missing entry while the others wait for it. An entry past its
        ``ttl`` whose log version and generation are unchanged (only the CLI may have
        changed something meanwhile) is refreshed in the background, on a workspace of its
        own, while every caller gets the old result at once."""
        key = (*name, ws.log.version, self.generation)
        with self._guard:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]  # type: ignore[no-any-return]
            lock = self._locks.setdefault(name, threading.Lock())
        if hit is not None:  # expired, nothing changed through this server: refresh behind
            if lock.acquire(blocking=False):
                threading.Thread(
                    target=self._refresh, args=(name, key, compute, lock), daemon=True
                ).start()
            return hit[1]  # type: ignore[no-any-return]
        with lock:
            with self._guard:
                fresh = self._cache.get(key)
                if fresh is not None and fresh[0] > time.monotonic():
                    return fresh[1]  # type: ignore[no-any-return]
            # kept entries are trusted until this server writes (a write it made may touch
            # what the fingerprint does not see); from then on it computes and keeps
            value = kept_or_computed(name, compute, ws, trust=self.generation == 0)
            self._store(name, key, value)
            return value

    def _store(self, name: tuple[Any, ...], key: tuple[Any, ...], value: Any) -> None:
        with self._guard:
            for k in [k for k in self._cache if k[: len(name)] == name]:
                del self._cache[k]
            self._cache[key] = (time.monotonic() + self.ttl, value)

    def _refresh(
        self,
        name: tuple[Any, ...],
        key: tuple[Any, ...],
        compute: Callable[[Workspace], Any],
        lock: threading.Lock,
    ) -> None:
        try:
            with self.checkout() as ws:  # computed again: the CLI may have written
                value = compute(ws)
                if name in FIRST_PAGE:
                    remember(ws, name, value, fingerprint(ws))
            self._store(name, key, value)
        except Exception:  # the old result stays; the next caller after the ttl tries again
            log.exception("refreshing %s failed", name[0])
        finally:
            lock.release()

    # ------------------------------------------------------------ the warmer (refresh.md)
    def warm(self, entries: Mapping[tuple[Any, ...], Callable[[Workspace], Any]]) -> None:
        """Compute every entry missing for the log version and generation now (kept ones
        come from disk, see :mod:`cxloop.services.brief.refresh`); entries already cached, even
        past their ``ttl``, are left alone."""
        with self.checkout() as ws:
            version = ws.log.version
            for name, compute in entries.items():
                with self._guard:
                    present = (*name, version, self.generation) in self._cache
                if not present:
                    try:
                        self.cached(name, compute, ws)
                    except Exception as exc:
                        log.info("warming %s failed: %s", name[0], exc)

    def start_warmer(
        self, entries: Mapping[tuple[Any, ...], Callable[[Workspace], Any]], poll: float
    ) -> None:
        """Warm ``entries`` now in a background thread, then whenever a write through this
        server wakes it or, every ``poll`` seconds (0: never), the log version changed."""
        self._warmer = Warmer(self, entries, poll)
        self._warmer.start()

    def close(self) -> None:
        if self._warmer is not None:
            self._warmer.stop()
        with self._guard:
            for ws in self._all:
                ws.close()
            self._all.clear()
            self._idle.clear()


def kept_or_computed(
    name: tuple[Any, ...], compute: Callable[[Workspace], T], ws: Workspace, trust: bool = True
) -> T:
    """A first-page entry kept by the refresh for the store as it is now (when ``trust``),
    else ``compute(ws)`` (kept in turn); any other entry is computed."""
    if name not in FIRST_PAGE:
        return compute(ws)
    found = lookup(ws, name) if trust else None
    if found is not None:
        return found  # type: ignore[no-any-return]
    value = compute(ws)
    remember(ws, name, value, fingerprint(ws))
    return value


class Warmer:
    """The server's background refresh: one daemon thread that calls
    :meth:`Runtime.warm` at start, when woken, and when the log version moved."""

    def __init__(
        self,
        rt: Runtime,
        entries: Mapping[tuple[Any, ...], Callable[[Workspace], Any]],
        poll: float,
    ) -> None:
        self.rt, self.entries, self.poll = rt, entries, poll
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cxloop-warmer", daemon=True)
        self.rounds = 0  # warm rounds finished (tests wait on it)

    def start(self) -> None:
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        seen: tuple[int, int] | None = None
        while not self._stopped.is_set():
            woken = self._wake.wait(self.poll or None)
            self._wake.clear()
            if self._stopped.is_set():
                return
            with self.rt.checkout() as ws:
                now = (int(ws.log.version), self.rt.generation)
            if woken or now != seen:
                try:
                    self.rt.warm(self.entries)
                except Exception:  # the next round tries again; a request computes it
                    log.exception("warming failed")
                seen = now
                self.rounds += 1
