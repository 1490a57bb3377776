"""Cases from signals, remedies, the empowerment policy at work, approvals, audit, follow-ups.

Runs on the generated Northwind Home store (real DuckDB, Parquet and SQLite files)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cxloop
from cxloop.domain.cases import (
    CASE_TRANSITIONS,
    CaseState,
    SignalFacts,
    SignalKind,
    case_severity,
    check_transition,
    signal_severity,
)
from cxloop.domain.policy import can_grant_at_most
from cxloop.domain.remedies import CustomerTier, Remedy, Severity
from cxloop.errors import ConflictError, NotFoundError, PolicyError
from cxloop.services.recovery.cases import Actor
from tests.conftest import demo_copy
from tests.test_cli import run, run_here

ALICE, BOB, CAROL = Actor("alice", "agent"), Actor("bob", "lead"), Actor("carol", "manager")


@pytest.fixture(scope="module")
def synced_store(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = demo_copy(demo_store, tmp_path_factory.mktemp("cases"))
    with cxloop.open(home) as cx:
        cx.sync_cases()
    return home


@pytest.fixture
def cx(synced_store: Path, tmp_path: Path) -> cxloop.Cxloop:
    """A private copy of the synced demo store (tests change it)."""
    shutil.copytree(synced_store, tmp_path / "store")
    with cxloop.open(tmp_path / "store") as handle:
        yield handle


def _case_with(cx: cxloop.Cxloop, kind: str, promise_kind: str | None = None) -> str:
    for case in cx.cases(state="open"):
        for s in cx.case(case["case_id"])["signals"]:
            if s["kind"] == kind and promise_kind in (None, s["facts"].get("promise_kind")):
                return str(case["case_id"])
    raise AssertionError(f"no open case with a {kind} signal")


# ---------------------------------------------------------------- domain
@given(st.lists(st.sampled_from(list(CaseState)), max_size=8))
def test_case_states_follow_the_one_table(path: list[CaseState]) -> None:
    state = CaseState.OPEN
    for nxt in path:
        if nxt in CASE_TRANSITIONS[state]:
            check_transition("CS-1", state, nxt)
            state = nxt
        else:
            with pytest.raises(PolicyError, match=f"case CS-1 is {state.value}"):
                check_transition("CS-1", state, nxt)
    assert not CASE_TRANSITIONS[CaseState.FOLLOWED_UP]


@given(st.lists(st.sampled_from(list(Severity)), min_size=1, max_size=6), st.booleans())
def test_case_severity_is_the_worst_signal_or_one_step_worse(
    signals: list[Severity], high_value: bool
) -> None:
    sev = case_severity(signals, high_value)
    worst = max(s.rank for s in signals)
    assert worst <= sev.rank <= min(worst + 2, Severity.CRITICAL.rank)
    assert case_severity([*signals, Severity.LOW], high_value).rank >= sev.rank


def test_signal_severity_rules() -> None:
    def broken(kind: str, breach: str = "late", late: float = 10.0) -> Severity:
        facts = SignalFacts(SignalKind.BROKEN_PROMISE, kind, breach, late)
        return signal_severity(facts)

    assert broken("delivery", late=80) is Severity.HIGH
    assert broken("delivery", "not_fulfilled", 0) is Severity.HIGH
    assert broken("delivery", late=30) is Severity.MEDIUM
    assert broken("callback") is Severity.MEDIUM
    assert broken("reply") is Severity.LOW
    nps = SignalFacts(SignalKind.NEGATIVE_FEEDBACK, score=2, metric="nps")
    assert signal_severity(nps) is Severity.HIGH
    assert signal_severity(SignalFacts(SignalKind.REPEAT_CONTACT, contacts=3)) is Severity.HIGH


# ---------------------------------------------------------------- sync
def test_sync_files_one_active_case_per_customer_problem(cx: cxloop.Cxloop) -> None:
    cases = cx.cases()
    assert len(cases) > 50
    keys = Counter((c["customer_id"], c["subject"]) for c in cases if c["state"] == "open")
    assert max(keys.values()) == 1
    kinds = Counter(s["kind"] for c in cases for s in cx.case(c["case_id"])["signals"])
    assert {"broken_promise", "negative_feedback", "repeat_contact"} <= set(kinds)
    again = cx.sync_cases()
    assert (again.signals_new, again.cases_opened) == (0, 0)
    assert len(cx.cases()) == len(cases)


def test_a_wider_window_adds_cases_without_repeating_old_ones(cx: cxloop.Cxloop) -> None:
    from cxloop.domain.cases import SignalRules

    before = len(cx.cases())
    report = cx.sync_cases(SignalRules(open_window=timedelta(days=120)))
    assert report.signals_new > 0 and report.cases_opened > 0
    assert len(cx.cases()) == before + report.cases_opened
    callbacks = [
        s
        for c in cx.cases()
        for s in cx.case(c["case_id"])["signals"]
        if s["facts"].get("promise_kind") == "callback"
    ]
    assert callbacks and all(s["department"] == "support" for s in callbacks)


# ---------------------------------------------------------------- recommend and grant
def test_recommendation_for_a_late_delivery_is_proportionate_and_explained(
    cx: cxloop.Cxloop,
) -> None:
    case_id = _case_with(cx, "broken_promise", "delivery")
    advice = cx.recover(case_id, role="agent").as_dict()
    remedies = [ln["remedy"] for ln in advice["lines"]]
    assert "apology" in remedies and "credit" in remedies
    credit = next(ln for ln in advice["lines"] if ln["remedy"] == "credit")
    assert 5 <= credit["amount"] <= 0.25 * 5000
    assert advice["reason"].startswith("broken delivery promise")
    assert "similar cases" in advice["reason"]
    limit = can_grant_at_most(
        cx.policy,
        "agent",
        Remedy.CREDIT,
        Severity(advice["severity"]),
        CustomerTier(advice["customer_tier"]),
        None,
    )
    assert credit["allowed"] == (credit["amount"] <= (limit if limit is not None else 1e9))


def test_grant_beyond_authority_needs_an_approval_and_the_wait_is_measured(
    cx: cxloop.Cxloop,
) -> None:
    case_id = _case_with(cx, "broken_promise", "delivery")
    with pytest.raises(PolicyError, match="needs approval from lead"):
        cx.grant(case_id, Remedy.CREDIT, 120, ALICE)
    approval = cx.request_approval(case_id, "credit", 120, ALICE, note="3rd late order")
    assert approval["needs_role"] == "lead" and approval["decision"] is None
    with pytest.raises(PolicyError, match="alan \\(agent\\) cannot approve"):
        cx.decide_approval(approval["approval_id"], Actor("alan", "agent"), True)
    with pytest.raises(PolicyError, match="four eyes: alice asked for approval"):
        cx.decide_approval(approval["approval_id"], Actor(" Alice ", "director"), True)
    done = cx.decide_approval(approval["approval_id"], BOB, True)
    assert (done["decision"], done["decided_by"]) == ("approved", "bob")
    with pytest.raises(ConflictError, match="already approved by bob"):
        cx.decide_approval(approval["approval_id"], CAROL, False)
    actions = [(a["actor"], a["action"], a["amount"]) for a in cx.audit(case_id)]
    assert actions[-3:] == [
        ("alice", "request", 120),
        ("bob", "approve", 120),
        ("bob", "grant", 120),
    ]
    assert cx.case(case_id)["case"]["state"] == "in_progress"
    ev = cx.events()
    credits = ev.filter((ev.event_type == "credit_issued") & (ev.amount == 120)).execute()
    assert (
        len(credits) == 1 and credits.customer_id.iloc[0] == cx.case(case_id)["case"]["customer_id"]
    )
    waits = cx.case_metrics()["approvals"]
    assert waits["requests"] == 1 and waits["pending"] == 0 and waits["wait"]["max_hours"] >= 0


def test_granted_callback_and_refund_become_promises_in_the_ledger(cx: cxloop.Cxloop) -> None:
    case_id = _case_with(cx, "broken_promise", "delivery")
    cx.grant(case_id, "callback", 0, ALICE)
    cx.grant(case_id, "refund", 20, ALICE)
    subject = cx.case(case_id)["case"]["subject"]
    led = cx.ledger()
    mine = led.filter(led.ref.isin([case_id, subject])).execute()
    assert {"callback", "refund"} <= set(mine.kind)


def test_the_audit_log_is_append_only(cx: cxloop.Cxloop) -> None:
    case_id = _case_with(cx, "broken_promise")
    cx.grant(case_id, "apology", 0, ALICE)
    con = sqlite3.connect(cx.home / "state.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET amount = 1000")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    con.close()


def test_unknown_case_and_unknown_role_are_clear_errors(cx: cxloop.Cxloop) -> None:
    with pytest.raises(NotFoundError, match="no case 'CS-999999'"):
        cx.recover("CS-999999")
    case_id = _case_with(cx, "broken_promise")
    with pytest.raises(PolicyError, match="boss"):
        cx.grant(case_id, "credit", 5, Actor("x", "boss"))


# ---------------------------------------------------------------- resolve and follow up
def test_missed_follow_ups_are_broken_promises_and_made_ones_are_kept(cx: cxloop.Cxloop) -> None:
    a = _case_with(cx, "broken_promise", "delivery")
    cx.start_case(a, ALICE)
    cx.resolve_case(a, ALICE, "reshipped", timedelta(days=2), at=datetime(2026, 11, 10, 9))
    b = next(c["case_id"] for c in cx.cases(state="open") if c["case_id"] != a)
    cx.resolve_case(b, ALICE, "explained", timedelta(days=2), at=datetime(2026, 11, 12, 9))
    cx.follow_up_case(b, ALICE, "called, all good", at=datetime(2026, 11, 13, 10))
    led = cx.ledger()
    states = dict(led.filter(led.rule == "follow_up").select("ref", "state").execute().values)
    assert states == {a: "broken", b: "kept"}
    follow = cx.case_metrics()["follow_ups"]
    assert (follow["promised"], follow["missed"], follow["made_on_time"]) == (2, 1, 1)
    with pytest.raises(PolicyError, match="followed_up"):
        cx.start_case(b, ALICE)


def test_first_contact_resolution_counts_the_customers_contacts(cx: cxloop.Cxloop) -> None:
    repeat = _case_with(cx, "repeat_contact")
    cx.resolve_case(repeat, ALICE, "fixed", at=datetime(2026, 11, 20, 17))
    assert cx.case(repeat)["case"]["contacts"] >= 2
    m = cx.case_metrics()
    assert m["resolved"] == 1 and m["first_contact_resolution"] == 0.0


# ---------------------------------------------------------------- CLI
def test_cli_recover_and_refused_grant(synced_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "store"
    shutil.copytree(synced_store, home)
    listed = run(home, "cases", "list", "--state", "open", "--format", "json").stdout
    case_id = json.loads(listed)[0]["case_id"]
    advice = json.loads(run_here(home, "recover", case_id, "--format", "json").stdout)
    assert advice["case_id"] == case_id and advice["lines"]
    refused = run_here(
        home,
        "cases",
        "grant",
        case_id,
        "--remedy",
        "credit",
        "--amount",
        "500",
        "--actor",
        "alice",
        check=False,
    )
    assert refused.returncode == 1
    assert "needs approval from manager" in refused.stderr
    assert "cxloop cases request" in refused.stderr


def test_two_syncs_at_once_file_each_signal_once(demo_store: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    home = demo_copy(demo_store, tmp_path)
    env = {**os.environ, "CXLOOP_HOME": str(home)}
    cmd = [sys.executable, "-m", "cxloop", "cases", "sync", "--format", "json"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(r["signals_new"] for r in reports)[0] == 0  # the second found nothing new
    with cxloop.open(home) as cx:
        cases = cx.cases()
        assert len(cases) == sum(r["cases_opened"] for r in reports)
        keys = Counter((c["customer_id"], c["subject"]) for c in cases)
        assert max(keys.values()) == 1


def test_a_bad_duration_is_a_usage_error_naming_the_option(tmp_path: Path) -> None:
    proc = run(tmp_path / "store", "cases", "sync", "--window", "abc", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Invalid value for --window: 'abc' is not a duration" in proc.stderr
