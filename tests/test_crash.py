"""An ingest killed (SIGKILL) at every step of its commit, then a restart: nothing lost,
nothing twice, the quarantine complete, no run left running, no temporary file left.

The kill is real: a subprocess runs the ingest with ``CXLOOP_CRASH_AT=<step>`` and
:func:`cxloop.store.crash.point` sends it SIGKILL at that step (no cleanup runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.services.log.ingest import ingest_path
from cxloop.store import crash, db
from cxloop.workspace.workspace import Workspace

HEADER = "event_id,customer_id,event_type,ts,amount,attrs\n"
BASE = [
    'a1,c1,order_placed,2026-03-01T10:00:00Z,10,"{""x"": 1, ""y"": 2}"',
    "a2,c1,order_shipped,2026-03-02T10:00:00Z,,",
    "a3,c2,order_placed,2026-03-01T11:00:00Z,20,",
]
BATCH = [
    "b1,c3,order_placed,2026-03-03T10:00:00Z,30,",
    "a3,c2,order_placed,2026-03-01T11:00:00Z,99,",  # conflict: another amount
    "b2,c3,order_teleported,2026-03-03T11:00:00Z,,",  # bad row
    'a1,c1,order_placed,2026-03-01T10:00:00Z,10,"{""y"":2,""x"":1}"',  # same attrs: duplicate
    "b3,c4,order_placed,2026-03-04T10:00:00Z,5,",
]
#: The steps after which the killed run's events are in the log.
COMMITTED = ("log-committed", "quarantine-recorded", "run-finished")
RUN = "import sys, cxloop; cxloop.open(sys.argv[1]).ingest(sys.argv[2])"


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _crash(home: Path, file: Path, step: str, env: dict[str, str]) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", RUN, str(home), str(file)],
        env={**os.environ, **env, "CXLOOP_HOME": str(home), crash.ENV: step},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]


def _check(ws: Workspace, batch: Path) -> None:
    con = ws.duck
    ids = [r[0] for r in con.execute(f"SELECT event_id FROM {ws.log.relation(con)}").fetchall()]
    assert sorted(ids) == ["a1", "a2", "a3", "b1", "b3", "z1"]  # nothing lost, nothing twice
    assert _quarantined(ws, batch) == {(2, "event_id"), (3, "event_type")}
    assert [r["ingest_id"] for r in ws.state.runs() if r["status"] == "running"] == []
    journal = ws.home / "journal"
    assert not journal.exists() or list(journal.iterdir()) == []
    events, scratch = ws.home / "events", ws.home / "tmp"
    listed = {s["file"] for s in ws.log.manifest()["segments"]}
    leftovers = [p.name for p in events.glob(".tmp-*")] + [p.name for p in events.glob("seg-*")]
    leftovers += [p.name for p in scratch.glob("append-*.csv")]
    assert sorted(set(leftovers) - listed) == []


def _quarantined(ws: Workspace, batch: Path) -> set[tuple[int, str]]:
    return {(r["row"], r["field"]) for r in ws.state.quarantined(file=str(batch))}


def _crash_and_restart(tmp_path: Path, ws_open: Callable[[], Workspace], step: str) -> None:
    base, batch = _write(tmp_path / "base.csv", BASE), _write(tmp_path / "batch.csv", BATCH)
    ws = ws_open()
    ingest_path(ws, base)
    env = {"CXLOOP_DATABASE_URL": ws.settings.database_url} if ws.settings.database_url else {}
    _crash(ws.home, batch, step, env)
    # the restart: the next ingest (here of an unrelated file) finishes the killed run
    ws = ws_open()
    other = ingest_path(ws, _write(tmp_path / "other.csv", ["z1,c9,review,2026-03-05,,"]))
    assert other.events_new == 1
    by_file = {r["path"]: r["status"] for r in ws.state.runs()}
    committed = step in COMMITTED
    assert by_file[str(batch)] == ("done" if committed else "failed")
    if committed:  # the killed run's conflict and bad row, from its journal
        assert _quarantined(ws, batch) == {(2, "event_id"), (3, "event_type")}
    # ... and loading the batch again adds nothing twice
    ingest_path(ws, batch)
    _check(ws, batch)


@pytest.mark.parametrize("step", crash.INGEST_STEPS)
def test_killed_at_every_step_then_restarted(tmp_path: Path, step: str) -> None:
    _crash_and_restart(tmp_path, lambda: Workspace.open(tmp_path / "store"), step)


@pytest.mark.parametrize("step", ["journal-written", "log-committed", "quarantine-recorded"])
def test_killed_postgres_ingest_then_restarted(tmp_path: Path, pg_url: str, step: str) -> None:
    db.migrate(pg_url)
    _crash_and_restart(
        tmp_path, lambda: Workspace.open(tmp_path / "store", database_url=pg_url), step
    )
