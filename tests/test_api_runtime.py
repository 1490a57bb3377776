"""The server's report cache: computed once, refreshed without making callers queue."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cxloop.api.runtime import Runtime
from cxloop.settings import Settings


def test_cold_entries_are_computed_once(tmp_path: Path) -> None:
    rt = Runtime(Settings.from_env({}, home=tmp_path / "store"), ttl=60)
    calls: list[int] = []
    gate = threading.Event()

    def compute(_: object) -> str:
        calls.append(1)
        gate.wait(5)
        return "brief"

    results: list[str] = []

    def caller() -> None:
        with rt.checkout() as ws:
            results.append(rt.cached(("brief",), compute, ws))

    threads = [threading.Thread(target=caller) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join()
    assert results == ["brief"] * 5 and len(calls) == 1
    rt.close()


def test_an_expired_entry_is_refreshed_behind_the_callers(tmp_path: Path) -> None:
    rt = Runtime(Settings.from_env({}, home=tmp_path / "store"), ttl=0.05)
    with rt.checkout() as ws:
        assert rt.cached(("brief",), lambda _: "v1", ws) == "v1"
        time.sleep(0.1)  # past the ttl, same log version and generation
        started, gate = threading.Event(), threading.Event()
        used: list[object] = []

        def slow(w: object) -> str:
            used.append(w)
            started.set()
            gate.wait(5)
            return "v2"

        t0 = time.monotonic()
        assert rt.cached(("brief",), slow, ws) == "v1"  # the old one, at once
        assert started.wait(5) and used[0] is not ws  # refreshed on a workspace of its own
        assert rt.cached(("brief",), lambda _: "never", ws) == "v1"  # one refresh at a time
        assert time.monotonic() - t0 < 1
        gate.set()
        deadline = time.monotonic() + 5
        while rt.cached(("brief",), lambda _: "never", ws) != "v2":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        rt.wrote()  # a write through the server: nothing old may be served
        assert rt.cached(("brief",), lambda _: "v3", ws) == "v3"
    rt.close()
