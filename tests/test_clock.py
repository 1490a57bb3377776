"""One clock: the store's now (data, wall or a fixed time) stamps every action and is the
as-of of every report; on the real Olist export, acting on a case does not move time."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cxloop
from cxloop.domain.clock import WALL_LEDGER_MAX_AGE, Clock, parse_clock
from cxloop.errors import ConfigError, StoreError
from cxloop.services.log.internal import event_row, record_events
from cxloop.services.promises.ledger import ledger_status
from cxloop.services.recovery.cases import Actor
from cxloop.settings import Settings
from tests.conftest import demo_copy, olist_copy
from tests.test_cli import run, run_here

T0 = datetime(2018, 10, 22, 3, 33, 14)  # the latest event of the Olist export
Olist = tuple[cxloop.Cxloop, Path, list[str]]  # the store, its home, two incidents


# ---------------------------------------------------------------- the clock's modes
class Log:
    """A stand-in event log: its version and the data time, with the asks counted."""

    def __init__(self, latest: datetime | None) -> None:
        self.version, self.latest, self.asked = 1, latest, 0

    def data_time(self) -> datetime | None:
        self.asked += 1
        return self.latest


def _clock(setting: str, log: Log, wall: datetime = datetime(2026, 12, 6, 18, 0, 0, 5)) -> Clock:
    return Clock(setting, log.data_time, lambda: log.version, wall=lambda: wall)


def test_data_clock_reads_the_latest_source_event_once_per_log_version() -> None:
    log = Log(T0)
    clock = _clock("data", log)
    assert clock.mode == "data" and clock.now() == T0 and clock.now() == T0
    assert log.asked == 1  # cached for the version
    log.version, log.latest = 2, T0 + timedelta(hours=1)
    assert clock.now() == T0 + timedelta(hours=1) and log.asked == 2
    clock.seed(3, T0 + timedelta(days=1))  # a ledger build knows the time at version 3
    log.version = 3
    assert clock.now() == T0 + timedelta(days=1) and log.asked == 2


def test_an_empty_log_has_no_data_time_so_the_data_clock_reads_the_wall() -> None:
    clock = _clock("data", Log(None))
    assert clock.now() == datetime(2026, 12, 6, 18, 0, 0)  # whole seconds


def test_wall_and_fixed_clocks() -> None:
    log = Log(T0)
    wall = _clock("wall", log)
    assert wall.now() == datetime(2026, 12, 6, 18, 0, 0) and log.asked == 0
    fixed = _clock("2018-09-01T12:00:00+02:00", log)
    assert fixed.mode == "fixed" and fixed.now() == datetime(2018, 9, 1, 10, 0)
    fixed.seed(1, T0)  # only the data clock takes a seed
    assert fixed.now() == datetime(2018, 9, 1, 10, 0)
    assert fixed.as_dict() == {"mode": "fixed", "now": "2018-09-01T10:00:00"}


def test_what_is_current_on_each_clock() -> None:
    log = Log(T0)
    assert _clock("data", log).current(T0.isoformat())
    assert not _clock("data", log).current(T0 - timedelta(seconds=1))
    wall = _clock("wall", log, wall=datetime(2026, 12, 6, 18, 0))
    assert wall.current(datetime(2026, 12, 6, 18, 0) - WALL_LEDGER_MAX_AGE)
    assert not wall.current(datetime(2026, 12, 6, 18, 0) - WALL_LEDGER_MAX_AGE * 2)
    assert not wall.current(datetime(2026, 12, 6, 18, 1))  # ahead of the clock


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("data", "data"),
        (" WALL ", "wall"),
        ("2018-10-22", "2018-10-22T00:00:00"),
        ("2018-10-22T03:33:14Z", "2018-10-22T03:33:14"),
        ("2018-10-22T03:33:14.9-03:00", "2018-10-22T06:33:14"),
    ],
)
def test_clock_setting_is_normalised(value: str, expected: str) -> None:
    assert parse_clock(value) == expected
    assert Settings.from_env({"CXLOOP_CLOCK": value}).clock == expected


def test_a_bad_clock_setting_names_it() -> None:
    assert Settings.from_env({}).clock == "data"  # the default
    with pytest.raises(ConfigError, match=r"setting clock \(CXLOOP_CLOCK\): expected data, wall"):
        Settings.from_env({"CXLOOP_CLOCK": "yesterday"})


def test_own_events_must_carry_the_internal_prefix(tmp_path: Path) -> None:
    with cxloop.open(tmp_path / "store") as cx:
        row = event_row("remedy-1", "c1", "remedy_granted", T0, "CS-1")
        with pytest.raises(StoreError, match="must begin 'cx-'"):
            record_events(cx.workspace, "bad", [row])
        assert cx.events().count().execute() == 0


# ---------------------------------------------------------------- on the Olist export
@pytest.fixture(scope="module")
def olist(olist_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Olist]:
    home = olist_copy(olist_store, tmp_path_factory.mktemp("clock"))
    with cxloop.open(home) as cx:
        cx.sync_cases()
        incidents = [i.incident_id for i in cx.detect_incidents()[:2]]
        yield cx, home, incidents


def _figures(cx: cxloop.Cxloop, incidents: list[str]) -> dict[str, Any]:
    """What the reports say: the ledger's as-of and lateness, case metrics, cohort
    lateness, the voice windows' end."""
    report = cx.promise_report(by="kind").set_index("kind").loc["delivery"]
    metrics = cx.case_metrics()
    cohorts = {i: cx.cohort(i).sort_values(["customer_id", "ref"]) for i in incidents}
    return {
        "ledger_as_of": pd.Timestamp(cx.ledger().as_of.max().execute()).to_pydatetime(),
        "late_hours_median": float(report["late_hours_median"]),
        "broken": int(report["broken"]),
        "metrics_as_of": metrics["as_of"],
        "active_past_sla": metrics["active_past_sla"],
        "cohort_hours": {k: c["fact_value"].round(6).tolist() for k, c in cohorts.items()},
        "voice_as_of": cx.voice().as_of,
        "now": cx.now(),
    }


@pytest.mark.olist
def test_a_grant_on_olist_moves_no_report(olist: Olist) -> None:
    """The bug: a grant stamped today moved the ledger of a log that ends in 2018 (median
    lateness 6,148 h -> 77,369 h, every case past SLA) while the brief stayed in 2018."""
    cx, home, incidents = olist
    before = _figures(cx, incidents)
    assert before["now"] == T0  # the latest Olist event; the data clock is the default
    assert before["ledger_as_of"] == T0 and before["voice_as_of"] == T0
    assert before["metrics_as_of"] == T0.isoformat()
    # hours late over the late promises only (never-delivered ones have their own reason)
    assert round(before["late_hours_median"]) == 161
    assert any(h for hours in before["cohort_hours"].values() for h in hours)

    case = cx.cases(state="open")[0]
    done = run(home, "cases", "grant", case["case_id"], "--remedy", "credit", "--amount", "5",
               "--actor", "ana", "--format", "json")  # fmt: skip
    assert json.loads(done.stdout)["allowed"] is True

    after = _figures(cx, incidents)
    assert after == before
    events = cx.events()
    mine = events.filter(events.ref == case["case_id"]).execute()
    assert mine.event_type.tolist() == ["remedy_granted"] and (mine.ts == T0).all()
    grant = [a for a in cx.audit(case["case_id"]) if a["action"] == "grant"]
    assert grant[0]["at"] == T0.isoformat() and grant[0]["detail"]["recorded_at"] > "2018"
    assert cx.case(case["case_id"])["case"]["started_at"] == T0.isoformat()


@pytest.mark.olist
def test_as_of_sets_the_clock_for_every_report(
    olist: Olist,
) -> None:
    _cx, home, _incidents = olist
    promises = json.loads(run(home, "--as-of", "2018-09-01", "promises", "-f", "json").stdout)
    metrics = run_here(home, "--as-of", "2018-09-01T00:00:00Z", "cases", "metrics", "-f", "json")
    assert promises["as_of"] == json.loads(metrics.stdout)["as_of"] == "2018-09-01T00:00:00"
    with cxloop.open(home, as_of=datetime(2018, 9, 1)) as fixed:
        status = ledger_status(fixed.workspace)
        assert status["clock"] == {"mode": "fixed", "now": "2018-09-01T00:00:00"}
        assert not status["stale"]  # built as of this clock by the commands before
    with cxloop.open(home) as data:
        status = ledger_status(data.workspace)
        assert status["stale"] and status["clock"] == {"mode": "data", "now": T0.isoformat()}
    bad = run_here(home, "--as-of", "soon", "promises", check=False)
    assert bad.returncode == 1 and "CXLOOP_CLOCK" in bad.stderr


# ---------------------------------------------------------------- the brief agrees
@pytest.fixture
def demo(demo_store: Path, tmp_path: Path) -> Iterator[cxloop.Cxloop]:
    with cxloop.open(demo_copy(demo_store, tmp_path)) as cx:
        yield cx


def test_the_brief_cases_and_ledger_state_one_as_of(demo: cxloop.Cxloop) -> None:
    demo.sync_cases()
    now = demo.now()
    case = demo.cases(state="open")[0]["case_id"]
    demo.grant(case, "apology", 0, Actor("ana", "agent"))
    demo.resolve_case(case, Actor("ana", "agent"), "sorry")
    assert demo.now() == now  # cxloop's own events do not move the data clock
    b = demo.brief()
    assert b["as_of"] == pd.Timestamp(now).isoformat() == demo.case_metrics()["as_of"]
    assert pd.Timestamp(demo.ledger().as_of.max().execute()) == pd.Timestamp(now)
    follow_up = demo.case(case)["case"]["follow_up_due_at"]
    assert follow_up == (now + timedelta(days=3)).isoformat()


def test_a_wall_clock_store_stamps_actions_now(demo_store: Path, tmp_path: Path) -> None:
    home = demo_copy(demo_store, tmp_path)
    with cxloop.open(home, as_of="wall") as cx:
        assert abs(cx.now() - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)
        cx.sync_cases()
        assert not ledger_status(cx.workspace)["stale"]  # fresh for WALL_LEDGER_MAX_AGE
        assert cx.case_metrics()["as_of"][:13] == cx.now().isoformat()[:13]
    shutil.rmtree(home)
