"""The operational state on SQLite and on PostgreSQL: the same store classes, the same
answers, the same append-only guarantees; and the migrations that make the schema.

PostgreSQL is a real server started for the session (tests/pgserver.py); each test gets
its own empty database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cxloop.domain.events import LOG_COLUMNS
from cxloop.domain.incidents import Incident
from cxloop.domain.sending import SendStatus
from cxloop.errors import ConfigError, NotFoundError, PolicyError
from cxloop.notify.base import Notice, Receipt
from cxloop.settings import Settings
from cxloop.store import db
from cxloop.store.brief import BriefActions
from cxloop.store.cases import CASE_FIELDS, CaseStore
from cxloop.store.incidents import IncidentStore
from cxloop.store.keys import ApiKeys
from cxloop.store.outbox import Outbox
from cxloop.store.state import Problem, StateDB

BIG = 3_000_000_000  # beyond a 32-bit integer


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> db.Target:
    """Where the state lives: a SQLite file, or a migrated PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "state.sqlite"
    url: str = request.getfixturevalue("pg_url")
    db.migrate(url)
    return url


@pytest.fixture
def state(target: db.Target) -> StateDB:
    return StateDB(target)


def native(target: db.Target) -> Any:
    """A connection of the database's own driver (autocommit), bypassing cxloop."""
    if db.is_postgres(target):
        return psycopg.connect(str(target), autocommit=True)
    return sqlite3.connect(target, isolation_level=None)


NATIVE_ERRORS = (sqlite3.DatabaseError, psycopg.DatabaseError)


# ---------------------------------------------------------------- the SQL layer


def test_placeholders_become_psycopgs() -> None:
    assert db.pg_sql("SELECT * FROM t WHERE a = ? AND b = ?") == (
        "SELECT * FROM t WHERE a = %s AND b = %s"
    )
    assert db.pg_sql("UPDATE t SET a = :a WHERE k = :key") == (
        "UPDATE t SET a = %(a)s WHERE k = %(key)s"
    )
    # literals: kept (their % doubled, as psycopg reads % everywhere); casts kept
    assert db.pg_sql("SELECT '?', ':x', 5 % 2, a::text FROM t WHERE b LIKE ?") == (
        "SELECT '?', ':x', 5 %% 2, a::text FROM t WHERE b LIKE %s"
    )
    assert db.pg_sql("SELECT 'it''s 100%' AS \"a?b\"") == "SELECT 'it''s 100%%' AS \"a?b\""


def test_rows_read_alike_and_a_failed_block_rolls_back(state: StateDB) -> None:
    state.start_run("r1", "generic", "/in", "2026-01-01T00:00:00")
    with state.connect() as con:
        row = con.execute(
            "SELECT ingest_id, source, '50%' AS pct FROM ingest_runs WHERE ingest_id = ?",
            ("r1",),
        ).fetchone()
    assert row is not None
    assert (row[0], row["source"], row["pct"], len(row)) == ("r1", "generic", "50%", 3)
    assert dict(row) == {"ingest_id": "r1", "source": "generic", "pct": "50%"}
    assert list(row) == ["r1", "generic", "50%"]
    with pytest.raises(RuntimeError), state.connect() as con:
        con.execute("DELETE FROM ingest_runs")
        raise RuntimeError("boom")
    assert [r["ingest_id"] for r in state.runs()] == ["r1"]  # the delete was rolled back
    with pytest.raises(db.IntegrityError):  # a duplicate key, either database
        state.start_run("r1", "generic", "/in", "2026-01-01T00:00:00")


def test_ingest_runs_and_the_quarantine(state: StateDB) -> None:
    state.start_run("r1", "generic", "/in", "2026-01-01T00:00:00", signature="sig")
    assert state.last_done_run("sig") is None
    counts = {
        "rows_read": BIG,
        "events_new": BIG - 1,
        "events_duplicate": 1,
        "rows_quarantined": 2,
        "log_version": BIG + 7,
    }
    state.finish_run("r1", "2026-01-01T00:01:00", counts)
    done = state.last_done_run("sig")
    assert done is not None and done["status"] == "done"
    assert (done["rows_read"], done["log_version"]) == (BIG, BIG + 7)

    hashes = {"/in/a_b.csv": "h1", "/in/x%y.csv": "h2"}
    state.record_files("r1", hashes, "2026-01-01T00:01:00")
    state.record_files("r1", {"/in/a_b.csv": "h1"}, "2026-01-01T00:01:00")  # upsert: no error
    problems = [
        Problem("/in/a_b.csv", 2, "ts", "not a time", "yesterday", json.dumps({"ts": "y"})),
        Problem("/in/a_b.csv", 2, "ts", "not a time", "yesterday"),  # the same: stored once
        Problem("/in/x%y.csv", BIG, "amount", "not a number", "ten"),
    ]
    assert state.quarantine("r1", "generic", hashes, problems) == 3
    rows = state.quarantined()
    assert [(r["file"], r["row"]) for r in rows] == [("/in/a_b.csv", 2), ("/in/x%y.csv", BIG)]
    assert rows[0]["record"] == {"ts": "y"} and rows[1]["record"] is None
    # a file name's _ and % are literal, not LIKE wildcards
    assert [r["row"] for r in state.quarantined(file="a_b.csv")] == [2]
    assert state.quarantined(file="aXb.csv") == []
    assert [r["row"] for r in state.quarantined(file="x%y.csv")] == [BIG]
    # a later load of the file with other content hides the old problems
    state.start_run("r2", "generic", "/in", "2026-01-02T00:00:00")
    state.record_files("r2", {"/in/a_b.csv": "h9"}, "2026-01-02T00:00:00")
    assert [r["file"] for r in state.quarantined()] == ["/in/x%y.csv"]
    assert len(state.quarantined(current_only=False)) == 2
    assert [r["ingest_id"] for r in state.runs()] == ["r1", "r2"]


# ---------------------------------------------------------------- cases, approvals, audit


def _case(case_id: str, opened: str) -> dict[str, Any]:
    case = dict.fromkeys(CASE_FIELDS)
    case.update(
        case_id=case_id,
        customer_id="C1",
        subject="O1",
        department="logistics",
        severity="high",
        state="open",
        opened_at=opened,
        sla_due_at=opened,
        updated_at=opened,
    )
    return case


def _signal(signal_id: str, case_id: str) -> dict[str, Any]:
    return {
        "signal_id": signal_id,
        "kind": "broken_promise",
        "customer_id": "C1",
        "subject": "O1",
        "ts": "2026-01-01T00:00:00",
        "department": "logistics",
        "severity": "high",
        "detail": "late",
        "source_ref": "P1",
        "facts": {"late_hours": 30.5},
        "case_id": case_id,
        "recorded_at": "2026-01-01T00:00:00",
    }


def test_cases_signals_approvals_and_the_append_only_audit(target: db.Target) -> None:
    store = CaseStore(StateDB(target))
    with store.state.connect() as con:
        assert store.next_case_id(con) == "CS-000001"
        store.insert_case(con, _case("CS-000001", "2026-01-01T00:00:00"))
        store.insert_case(con, _case("CS-000041", "2026-01-02T00:00:00"))
        assert store.next_case_id(con) == "CS-000042"
        latest = store.latest_case(con, "C1", "O1")
        assert latest is not None and latest["case_id"] == "CS-000041"
        store.add_signals(con, [_signal("s1", "CS-000001"), _signal("s2", "CS-000001")])
        store.add_signals(con, [_signal("s1", "CS-000041")])  # known: ignored
        store.update_case(con, "CS-000001", state="in_progress", contacts=BIG)
    assert store.new_signals(["s1", "s3", "s2", "s4"]) == {"s3", "s4"}
    assert store.new_signals(f"x{i}" for i in range(1200)) == {f"x{i}" for i in range(1200)}
    assert [s["signal_id"] for s in store.signals("CS-000001")] == ["s1", "s2"]
    assert store.signals("CS-000001")[0]["facts"] == {"late_hours": 30.5}
    case = store.case("CS-000001")
    assert case is not None and (case["state"], case["contacts"]) == ("in_progress", BIG)
    assert [c["case_id"] for c in store.cases(state="open")] == ["CS-000041"]
    assert len(store.cases()) == 2 and store.case("CS-999999") is None

    request = {
        "case_id": "CS-000001",
        "remedy": "credit",
        "amount": 58.25,
        "requested_by": "alice",
        "requested_role": "agent",
        "needs_role": "lead",
        "requested_at": "2026-01-01T00:00:00",
        "policy_version": "1 (abc)",
        "note": "100% sure",
    }
    with store.state.connect() as con:
        first = store.add_approval(con, request)
        second = store.add_approval(con, {**request, "amount": 12.0})
    assert (first, second) == (1, 2)
    decision = {"decision": "approved", "decided_by": "bob", "decided_role": "lead"}
    with store.state.connect() as con:
        assert store.decide_approval(con, first, **decision, decided_at="2026-01-01T01:00:00")
        assert not store.decide_approval(con, first, **decision, decided_at="2026-01-01T02:00:00")
    approval = store.approval(first)
    assert approval is not None and approval["amount"] == 58.25
    assert approval["decided_at"] == "2026-01-01T01:00:00" and approval["note"] == "100% sure"
    assert [a["approval_id"] for a in store.approvals(pending_only=True)] == [second]

    with store.state.connect() as con:
        approve = {"at": "t1", "actor": "bob", "role": "lead", "action": "approve"}
        store.audit(con, {**approve, "case_id": "CS-000001", "amount": 58.25, "detail": {"a": 1}})
        store.audit(con, {"at": "t2", "actor": "cxloop", "role": "system", "action": "open",
                          "case_id": "CS-000041"})  # fmt: skip
    log = store.audit_log()
    assert [(e["audit_id"], e["action"]) for e in log] == [(1, "approve"), (2, "open")]
    assert log[0]["detail"] == {"a": 1} and log[1]["amount"] is None
    assert [e["audit_id"] for e in store.audit_log("CS-000041")] == [2]

    for sql in ("UPDATE audit SET amount = 1000", "DELETE FROM audit"):
        with (
            pytest.raises(db.IntegrityError, match="the audit log is append-only"),
            store.state.connect() as con,
        ):
            con.execute(sql)
        con = native(target)
        try:
            with pytest.raises(NATIVE_ERRORS, match="append-only"):
                con.execute(sql)
        finally:
            con.close()
    assert len(store.audit_log()) == 2


def test_brief_actions_are_append_only(target: db.Target) -> None:
    actions = BriefActions(StateDB(target))
    item = {"key": "k1", "kind": "incident", "title": "Late parcels", "customers": 41,
            "revenue": 1234.5, "reach": 0.25, "control": None}  # fmt: skip
    first = actions.record(item, "told billing; 100% refunds", "dana", "2026-01-01T00:00:00")
    second = actions.record({**item, "key": "k2"}, "again", "dana", "2026-01-02T00:00:00")
    assert (first["action_id"], second["action_id"]) == (1, 2)
    assert first["before"] == {"customers": 41, "revenue": 1234.5, "reach": 0.25, "control": None}
    assert actions.get(1)["note"] == "told billing; 100% refunds"
    assert [a["item_key"] for a in actions.all()] == ["k1", "k2"]
    for sql in ("UPDATE brief_actions SET note = 'edited'", "DELETE FROM brief_actions"):
        with (
            pytest.raises(db.IntegrityError, match="brief actions are append-only"),
            actions.state.connect() as con,
        ):
            con.execute(sql)
        con = native(target)
        try:
            with pytest.raises(NATIVE_ERRORS, match="append-only"):
                con.execute(sql)
        finally:
            con.close()
    assert len(actions.all()) == 2


def _incident(incident_id: str, summary: str) -> Incident:
    return Incident(
        incident_id=incident_id,
        detector="late_deliveries",
        kind="late_delivery",
        dimension="carrier+region",
        value="Meridian / southeast",
        window_start=datetime(2026, 1, 5),
        window_end=datetime(2026, 1, 12),
        n=200,
        hits=41,
        rate=0.205,
        baseline_rate=0.05,
        p_value=1e-9,
        q_value=1e-8,
        method="one-sided exact binomial test, BH FDR 5%",
        summary=summary,
        details={"late": 41},
        detected_at=datetime(2026, 1, 13),
    )


def test_incidents_are_recorded_then_refreshed(target: db.Target) -> None:
    store = IncidentStore(StateDB(target))
    assert store.record([_incident("i1", "41 late"), _incident("i2", "9 late")], "t1") == 2
    assert store.record([_incident("i1", "44 late")], "t2") == 0
    found = store.get("i1")
    assert found is not None and found.summary == "44 late" and found.details == {"late": 41}
    assert store.get("nope") is None
    firsts = {i.incident_id: (first, last) for i, first, last in store.all()}
    assert firsts == {"i1": ("t1", "t2"), "i2": ("t1", "t1")}


def test_api_keys(target: db.Target) -> None:
    keys = ApiKeys(StateDB(target))
    token = keys.create("alice", "agent", None, "admin")
    row = keys.verify(token)
    assert row is not None and row["name"] == "alice" and "secret_sha256" not in row
    assert row["last_used_at"] is None  # read before it was touched
    assert keys.get(row["key_id"])["last_used_at"] is not None
    assert keys.verify(token + "x") is None and keys.verify("nonsense") is None
    assert [k["name"] for k in keys.list()] == ["alice"]
    assert keys.revoke(row["key_id"])["revoked_at"] is not None
    assert keys.verify(token) is None
    assert keys.list() == [] and len(keys.list(include_revoked=True)) == 1
    with pytest.raises(NotFoundError):
        keys.revoke("nope")


def test_the_outbox(target: db.Target) -> None:
    outbox = Outbox(StateDB(target))
    notices = [
        Notice(f"k{i}", "inc", f"C{i}", f"c{i}@x", "Sorry", "100% our fault", {"n": i})
        for i in range(3)
    ]
    assert outbox.enqueue(notices, "email") == 3
    again = [*notices, Notice("k9", "inc", "C0", "", "s", "b", {})]  # same incident+customer
    assert outbox.enqueue(again, "email") == 0
    assert outbox.claim("k0") and not outbox.claim("k0")
    outbox.mark_sent("k0", Receipt("email", "<id@x>"))
    assert outbox.claim("k1")
    outbox.mark_failed("k1", "refused", retryable=False)
    assert not outbox.claim("k1")
    assert outbox.claim("k2")
    assert outbox.recover_interrupted() == 1
    counts = outbox.summary("inc", channel="email")
    assert counts[SendStatus.SENT] == counts[SendStatus.FAILED] == 1
    assert counts[SendStatus.UNCERTAIN] == 1 and counts[SendStatus.PENDING] == 0
    (sent,) = outbox.rows(status=SendStatus.SENT)
    assert sent.receipt == "<id@x>" and sent.data == {"n": 0} and sent.attempts == 1
    assert outbox.deliverable("email", retry_uncertain=True)[0].key == "k2"
    with pytest.raises(PolicyError, match="cannot become sent"):
        outbox.mark_sent("k1", Receipt("email", "late"))
    with pytest.raises(NotFoundError):
        outbox.claim("nope")


# ---------------------------------------------------------------- migrations


def test_the_revisions_are_alembics_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_heads() == [db.HEAD]
    chain = [s.revision for s in script.walk_revisions("base", "heads")]
    assert tuple(reversed(chain)) == db.REVISIONS


def test_the_event_log_migration_matches_the_log_columns() -> None:
    import importlib.util

    path = db.MIGRATIONS / "versions" / "0002_event_log.py"
    spec = importlib.util.spec_from_file_location("m0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert tuple((c.name, c.dtype) for c in LOG_COLUMNS) == module.COLUMNS


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cxloop", *args],
        env={**os.environ, "COLUMNS": "200", **env},
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_cxloop_migrate_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    env = {"CXLOOP_HOME": str(tmp_path / "home"), "CXLOOP_DATABASE_URL": pg_url}
    status = cli("migrate", "--status", env=env)
    assert status.returncode == 0, status.stderr
    assert "current: (none: not migrated)" in status.stdout and db.HEAD in status.stdout
    with pytest.raises(ConfigError, match=r"no revision \(not migrated\).*run `cxloop migrate`"):
        StateDB.open(Settings(home=tmp_path / "home", database_url=pg_url))

    done = cli("migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert f"(none) -> {db.HEAD}" in done.stdout
    again = cli("migrate", "--format", "json", env=env)
    assert json.loads(again.stdout) == {
        "store": pg_url,
        "backend": "postgresql",
        "head": db.HEAD,
        "from": db.HEAD,
        "to": db.HEAD,
        "changed": False,
    }
    status = cli("migrate", "--status", "--format", "json", env=env)
    assert json.loads(status.stdout)["current"] == db.HEAD
    state = StateDB.open(Settings(home=tmp_path / "home", database_url=pg_url))
    assert state.dialect == "postgresql" and state.path is None
    assert not (tmp_path / "home" / "state.sqlite").exists()  # the state is in PostgreSQL


def test_a_postgresql_database_behind_is_refused_not_migrated(pg_url: str) -> None:
    assert db.migrate(pg_url, "0001_baseline") == (None, "0001_baseline")
    with pytest.raises(ConfigError, match=r"at revision 0001_baseline.*run `cxloop migrate`"):
        StateDB(pg_url)
    assert db.current_revision(pg_url) == "0001_baseline"  # untouched
    assert db.migrate(pg_url) == ("0001_baseline", db.HEAD)
    assert db.migrate(pg_url) == (db.HEAD, db.HEAD)  # twice: a no-op
    StateDB(pg_url)


def test_the_event_log_tables_on_postgresql(pg_url: str) -> None:
    db.migrate(pg_url)
    pg_types = {"string": "text", "timestamp": "timestamp without time zone",
                "float64": "double precision", "int64": "bigint"}  # fmt: skip
    with psycopg.connect(pg_url) as con:
        columns = con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'cx_events' ORDER BY ordinal_position"
        ).fetchall()
        assert [(n, t) for n, t, _ in columns] == [(c.name, pg_types[c.dtype]) for c in LOG_COLUMNS]
        assert columns[0][2] == "NO"
        key = con.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'cx_events'::regclass "
            "AND i.indisprimary"
        ).fetchall()
        assert key == [("event_id",)]
        indexes = {
            r[0]
            for r in con.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'cx_events'"
            ).fetchall()
        }
        assert any("(customer_id, ts)" in d for d in indexes)
        assert any("(event_type, ts)" in d for d in indexes)
        assert con.execute("SELECT id, version FROM cx_log").fetchall() == [(1, 0)]
        with pytest.raises(psycopg.errors.CheckViolation):
            con.execute("INSERT INTO cx_log VALUES (2, 0)")
        con.rollback()
        got = con.execute(
            """SELECT cx_attr('{"seller": "s1", "score": 9}', 'seller'),
                      cx_attr('{"score": 9}', 'score'), cx_attr(NULL, 'x'),
                      cx_attr('{}', 'missing')"""
        ).fetchone()
        assert got == ("s1", "9", None, None)
        quarantine_row = con.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'quarantine' AND column_name IN ('id', 'row')"
        ).fetchall()
        assert quarantine_row == [("bigint",), ("bigint",)]


def test_the_embedded_state_migrates_itself_and_has_no_event_tables(tmp_path: Path) -> None:
    path = tmp_path / "home" / "state.sqlite"
    assert db.current_revision(path) is None and not path.exists()
    StateDB.open(Settings(home=tmp_path / "home"))
    assert db.current_revision(path) == db.HEAD
    assert db.migrate(path) == (db.HEAD, db.HEAD)
    with sqlite3.connect(path) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        assert con.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert {"audit", "cases", "outreach_sends", "api_keys", "quarantine"} <= names
    assert "cx_events" not in names and "cx_log" not in names


# the state.sqlite an earlier cxloop made: its store modules' schemas, run on open
OLD_SCHEMA = """
CREATE TABLE ingest_runs (ingest_id TEXT PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, rows_read INTEGER, events_new INTEGER,
    events_duplicate INTEGER, rows_quarantined INTEGER, log_version INTEGER,
    status TEXT NOT NULL, signature TEXT);
CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, ingest_id TEXT NOT NULL,
    source TEXT NOT NULL, file TEXT NOT NULL, file_sha256 TEXT NOT NULL, row INTEGER NOT NULL,
    field TEXT NOT NULL, reason TEXT NOT NULL, value TEXT, record TEXT,
    UNIQUE (file_sha256, row, field, reason));
CREATE TABLE file_loads (file TEXT NOT NULL, file_sha256 TEXT NOT NULL,
    ingest_id TEXT NOT NULL, loaded_at TEXT NOT NULL, PRIMARY KEY (file, ingest_id));
CREATE TABLE audit (audit_id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, case_id TEXT, remedy TEXT,
    amount REAL, policy_version TEXT, detail TEXT NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
INSERT INTO ingest_runs (ingest_id, source, path, started_at, status)
    VALUES ('old-run', 'generic', '/in', '2025-01-01T00:00:00', 'done');
INSERT INTO audit (at, actor, role, action, detail) VALUES ('t0', 'ann', 'lead', 'grant', '{}');
"""


def test_an_old_sqlite_store_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(OLD_SCHEMA)
    assert db.current_revision(path) is None
    state = StateDB(path)  # opening adopts it: tables kept, the rest created, stamped
    assert db.current_revision(path) == db.HEAD
    assert [r["ingest_id"] for r in state.runs()] == ["old-run"]
    store = CaseStore(state)
    with state.connect() as con:
        store.audit(con, {"at": "t1", "actor": "bob", "role": "lead", "action": "deny"})
    assert [e["actor"] for e in store.audit_log()] == ["ann", "bob"]
    with pytest.raises(db.IntegrityError, match="append-only"), state.connect() as con:
        con.execute("DELETE FROM audit")
    assert Outbox(state).summary()[SendStatus.PENDING] == 0  # a table the old store lacked

    proc = cli("migrate", "--status", env={"CXLOOP_HOME": str(tmp_path)})
    assert f"current: {db.HEAD}" in proc.stdout, proc.stderr


def test_concurrent_first_opens_of_a_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            StateDB(path)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(db.HEAD,)]


def test_postgresql_connections_are_pooled(pg_url: str) -> None:
    db.migrate(pg_url)
    state = StateDB(pg_url)
    with state.connect() as con:
        first = con.execute("SELECT pg_backend_pid()").fetchone()
    with pytest.raises(db.DatabaseError), state.connect() as con:
        con.execute("SELECT * FROM no_such_table")
    with state.connect() as con:  # the failed transaction was rolled back: reusable
        again = con.execute("SELECT pg_backend_pid()").fetchone()
    assert first is not None and again is not None and first[0] == again[0]
    db.close_pools(pg_url)
    with state.connect() as con:
        row = con.execute("SELECT count(*) FROM audit").fetchone()
    assert row is not None and row[0] == 0


def test_an_unreachable_postgresql_is_a_clear_error() -> None:
    from cxloop.errors import StoreError

    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL store"):
        db.current_revision("postgresql://nobody:secret@127.0.0.1:1/none")
    assert db.redact("postgresql://nobody:secret@h:1/d") == "postgresql://nobody:***@h:1/d"


def test_one_error_tree_with_busy_by_type(tmp_path: Path) -> None:
    """Database errors are CxloopErrors, and "busy" is a type (the API's 503), not a word."""
    from cxloop.api.errors import from_cxloop
    from cxloop.errors import Busy, CxloopError, StoreError
    from cxloop.store.lock import WriteLock

    assert issubclass(db.DatabaseError, StoreError) and issubclass(db.DatabaseBusy, Busy)
    with WriteLock(tmp_path / ".lock", 1.0), pytest.raises(Busy) as held:
        WriteLock(tmp_path / ".lock", 0.0).__enter__()
    assert from_cxloop(held.value).status == 503
    other = StoreError("the manifest is busy being corrupt")  # the word alone is not enough
    assert from_cxloop(other).status == 500
    path = tmp_path / "s.sqlite"
    StateDB(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(db.DatabaseBusy) as locked, db.connect(path) as con:
            con.raw.execute("PRAGMA busy_timeout=50")
            con.execute("CREATE TABLE waits_for_the_lock (x)")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert isinstance(locked.value, CxloopError) and from_cxloop(locked.value).status == 503
