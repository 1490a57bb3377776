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

    def compute() -> str:
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


def test_an_expired_entry_is_served_while_one_caller_refreshes(tmp_path: Path) -> None:
    rt = Runtime(Settings.from_env({}, home=tmp_path / "store"), ttl=0.05)
    with rt.checkout() as ws:
        assert rt.cached(("brief",), lambda: "v1", ws) == "v1"
        time.sleep(0.1)  # past the ttl, same log version and generation
        started, gate = threading.Event(), threading.Event()

        def slow() -> str:
            started.set()
            gate.wait(5)
            return "v2"

        refreshed: list[str] = []

        def refresh() -> None:
            with rt.checkout() as mine:
                refreshed.append(rt.cached(("brief",), slow, mine))

        t = threading.Thread(target=refresh)
        t.start()
        assert started.wait(5)
        t0 = time.monotonic()
        assert rt.cached(("brief",), lambda: "never", ws) == "v1"  # the old one, at once
        assert time.monotonic() - t0 < 1
        gate.set()
        t.join()
        assert refreshed == ["v2"]
        assert rt.cached(("brief",), lambda: "never", ws) == "v2"
        rt.wrote()  # a write through the server: nothing old may be served
        assert rt.cached(("brief",), lambda: "v3", ws) == "v3"
    rt.close()
