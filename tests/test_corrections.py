"""Correcting the store: ``ingest revert`` takes one load back, ``forget`` erases a person;
on the embedded store and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pytest

import cxloop
from cxloop.errors import InputError, NotFoundError
from cxloop.services.incidents import outreach
from cxloop.services.log import corrections
from cxloop.services.log.corrections import Operator
from cxloop.services.log.internal import event_row, record_events
from cxloop.services.log.transfer import import_log
from cxloop.services.recovery.cases import Actor
from cxloop.store import db
from cxloop.workspace.workspace import Workspace
from tests.conftest import demo_copy
from tests.test_backends import new_database
from tests.test_notify import SmtpServer, smtp

__all__ = ["smtp"]

HEADER = "event_id,customer_id,event_type,ts,department,channel,ref,amount,due_at,attrs\n"
GOOD = [
    "a1,c1,order_placed,2026-03-01T10:00:00Z,,web,O-1,120.5,2026-03-05T23:59:59Z,",
    "a2,c1,order_delivered,2026-03-04T15:00:00Z,,carrier,O-1,,,",
    "a3,c2,order_placed,2026-03-02T10:00:00Z,,web,O-2,40,2026-03-06T23:59:59Z,",
]
#: a wrong export: c3's order at the wrong amount, c2's order never delivered, a bad type
WRONG = [
    "b1,c3,order_placed,2026-03-03T10:00:00Z,,web,O-3,9999,2026-03-07T23:59:59Z,",
    "b2,c2,order_teleported,2026-03-05T10:00:00Z,,carrier,O-2,,,",
]
FIXED = [
    "b1,c3,order_placed,2026-03-03T10:00:00Z,,web,O-3,99.99,2026-03-07T23:59:59Z,",
    "b2,c2,order_delivered,2026-03-05T10:00:00Z,,carrier,O-2,,,",
]
ANN = Operator("ann", "admin")


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def _events(ws: Workspace) -> pd.DataFrame:
    cols = ["event_id", "customer_id", "event_type", "amount"]
    return ws.events().select(*cols).execute().sort_values("event_id").reset_index(drop=True)


def _promises(cx: cxloop.Cxloop) -> pd.DataFrame:
    cols = ["promise_id", "customer_id", "state", "due_at", "fulfilled_at"]
    return cx.promises()[cols].sort_values("promise_id").reset_index(drop=True)


@pytest.fixture(params=["embedded", "postgres"])
def settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "embedded":
        return {}
    base = request.getfixturevalue("pg_server")
    return {"database_url": new_database(base, "revert"), "engine": "postgres"}


def test_revert_takes_a_load_back_and_the_corrected_file_loads_cleanly(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    good, wrong = _csv(tmp_path / "good.csv", GOOD), _csv(tmp_path / "wrong.csv", WRONG)
    fixed = _csv(tmp_path / "fixed.csv", FIXED)
    with cxloop.open(tmp_path / "only-good") as ref:
        ref.ingest(good)
        want_events, want_promises = _events(ref.workspace), _promises(ref)
    with cxloop.Cxloop(Workspace.open(tmp_path / "store", **settings)) as cx:
        ws = cx.workspace
        first = cx.ingest(good)
        bad = cx.ingest(wrong)
        assert (bad.events_new, bad.rows_quarantined) == (1, 1)
        assert len(_promises(cx)) == 3
        if ws.log.backend == "parquet":
            ws.log.compact(ws.duck, "t")  # the rows keep their run in the compacted segment
        version = ws.log.version

        done = corrections.revert_ingest(ws, bad.ingest_id, ANN)
        assert (done["events"], done["actor"], done["log_version"]) == (1, "ann", version + 1)
        assert done["quarantine_rows"] == 1
        assert ws.log.version == version + 1  # every cache keyed by the version moves on
        # as if it had never loaded: the log, the ledger, the quarantine
        pd.testing.assert_frame_equal(_events(ws), want_events, check_dtype=False)
        pd.testing.assert_frame_equal(_promises(cx), want_promises, check_dtype=False)
        assert cx.quarantine().empty
        assert set(cx.quarantine(all_loads=True).ingest_id) == {bad.ingest_id}

        # a wrong load, then its correction clashes; revert the wrong one and load again
        again = cx.ingest(_csv(tmp_path / "wrong-again.csv", WRONG))
        clash = cx.ingest(fixed)
        assert clash.rows_quarantined == 1 and "loaded by ingest" in clash.problems[0].reason
        assert corrections.revert_ingest(ws, again.ingest_id, ANN)["quarantine_rows"] == 2
        assert cx.quarantine().empty  # its bad row, and the clash with its event
        reload = cx.ingest(fixed)
        assert (reload.events_new, reload.rows_quarantined, reload.unchanged) == (1, 0, False)
        row = _events(ws).set_index("event_id").loc["b1"]
        assert (row.customer_id, row.amount) == ("c3", 99.99)

        runs = {r["ingest_id"]: r for r in corrections.runs(ws)}
        assert runs[bad.ingest_id]["status"] == "retracted"
        assert runs[bad.ingest_id]["retraction"]["events"] == 1
        assert runs[first.ingest_id]["retraction"] is None
        audit = [e for e in cx.audit() if e["action"] == "ingest_revert"]
        assert [e["actor"] for e in audit] == ["ann", "ann"]
        assert audit[0]["detail"]["ingest_id"] == bad.ingest_id
        assert audit[0]["detail"]["events"] == 1

        with pytest.raises(InputError, match=r"already reverted at .* by ann"):
            corrections.revert_ingest(ws, bad.ingest_id, ANN)
        with pytest.raises(NotFoundError, match="no ingest run 'nope'"):
            corrections.revert_ingest(ws, "nope", ANN)
        reread = cx.ingest(good)  # read again after a revert: its events were there
        unchanged = cx.ingest(good)
        assert unchanged.unchanged and not reread.unchanged
        for run in (reread, unchanged):
            with pytest.raises(InputError, match="added nothing"):
                corrections.revert_ingest(ws, run.ingest_id, ANN)
        own = record_events(
            ws, "remedies", [event_row("cx-x1", "c1", "credit_issued", datetime(2026, 3, 6), "O-1")]
        )
        with pytest.raises(InputError, match="cxloop's own events"):
            corrections.revert_ingest(ws, own.ingest_id, ANN)

        # the reverted file loaded again: its bad row is a current problem again
        assert not cx.ingest(wrong).unchanged
        assert set(cx.quarantine(file="wrong.csv").field) == {"event_type", "event_id"}


def test_cli_ingest_runs_revert_forget_and_plain_ingest(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cxloop.cli.main import app

    home = tmp_path / "store"
    good = _csv(tmp_path / "good.csv", GOOD)

    def cli(*args: str, ok: bool = True) -> Any:
        done = CliRunner().invoke(app, [*args, "--home", str(home)])
        assert (done.exit_code == 0) is ok, done.output
        return done

    cli("ingest", str(good))  # `cxloop ingest PATH` as before
    loaded = json.loads(cli("ingest", "-f", "json", str(_csv(tmp_path / "w.csv", WRONG))).stdout)
    out = cli("ingest", "revert", loaded["ingest_id"], "--actor", "ann").stdout
    assert f"Reverted ingest {loaded['ingest_id']}: 1 event(s)" in out
    again = cli("ingest", "revert", loaded["ingest_id"], "--actor", "ann", ok=False)
    assert isinstance(again.exception, InputError) and "already reverted" in str(again.exception)
    runs = json.loads(cli("ingest", "runs", "-f", "json").stdout)["runs"]
    assert [r["status"] for r in runs] == ["done", "retracted"]
    assert runs[1]["retraction"]["actor"] == "ann" and runs[0]["retraction"] is None
    gone = json.loads(cli("forget", "c1", "--actor", "dpo", "-f", "json").stdout)
    assert gone["counts"]["events"] == 2 and gone["leftovers"] == []
    assert gone["erasure_id"].startswith("ER-") and '"c1"' not in json.dumps(gone)
    again = cli("forget", "c1", "--actor", "dpo", ok=False)
    assert isinstance(again.exception, NotFoundError)
    assert "nothing in this store names customer 'c1'" in str(again.exception)


# ------------------------------------------------------------------ forget

ALICE = Actor("alice", "agent")


@pytest.fixture(params=["embedded", "postgres"])
def demo(
    request: pytest.FixtureRequest, demo_store: Path, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """The demo company on either backend (a private copy)."""
    if request.param == "embedded":
        return demo_copy(demo_store, tmp_path), {}
    base = request.getfixturevalue("pg_server")
    settings = {"database_url": new_database(base, "forget"), "engine": "postgres"}
    home = tmp_path / "store"
    shutil.copytree(demo_store / "voice", home / "voice")
    ws = Workspace.open(home, **settings)
    try:
        import_log(ws, request.getfixturevalue("demo_export"))  # the session's (tests/engines.py)
    finally:
        ws.close()
    return home, settings


def _person(cx: cxloop.Cxloop, smtp: SmtpServer) -> tuple[str, str, str]:
    """A customer with a case, a notice sent to their address and a text of theirs."""
    from cxloop.analytics.voice import voice_expr

    cx.sync_cases()
    incident = next(
        i.incident_id
        for i in outreach.detect_incidents(cx.workspace)
        if i.detector == "billing_deviation_by_run"
    )
    outreach.send(cx.workspace, incident, smtp.channel())
    sent = {r["customer_id"]: r["address"] for r in outreach.send_status(cx.workspace, incident)}
    v = voice_expr(cx.workspace.events())
    texts = v.filter(v.text.notnull() & v.customer_id.isin(list(sent))).execute()
    with_case = {c["customer_id"] for c in cx.cases()}
    cid = sorted(set(texts.customer_id) & with_case)[0]
    return cid, sent[cid], str(texts[texts.customer_id == cid].text.iloc[0])


def _store_hits(home: Path, needles: list[str]) -> list[str]:
    """Every file under ``home`` (Parquet decoded) that holds one of ``needles``."""
    import re

    pattern = re.compile("|".join(re.escape(n) for n in needles))
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            text = duckdb.sql(
                f"SELECT string_agg(CAST(COLUMNS(*) AS VARCHAR), '|') FROM read_parquet('{path}')"
            ).fetchall()
            body = json.dumps(text, default=str, ensure_ascii=False)
        else:
            body = path.read_bytes().decode("utf-8", "replace")
        if pattern.search(body):
            found.append(str(path.relative_to(home)))
    return found


def _pg_hits(url: str, needles: list[str]) -> list[str]:
    found = []
    with psycopg.connect(url, autocommit=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for table in tables:
            for needle in needles:
                row = con.execute(
                    f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s', (f"%{needle}%",)
                ).fetchone()
                if row and row[0]:
                    found.append(f"{table}: {needle}")
    return found


def test_forget_erases_a_person_everywhere_and_leaves_the_others(
    demo: tuple[Path, dict[str, Any]], smtp: SmtpServer, tmp_path: Path
) -> None:
    home, settings = demo
    with cxloop.Cxloop(Workspace.open(home, **settings)) as cx:
        ws = cx.workspace
        cid, email, text = _person(cx, smtp)
        case_id = next(c["case_id"] for c in cx.cases(customer_id=cid))
        cx.start_case(case_id, ALICE)
        cx.resolve_case(case_id, ALICE, f"called {cid} at {email}: refund on its way")
        bad = _csv(tmp_path / "late.csv", [f"z1,{cid},order_teleported,2026-03-01T10:00:00Z,,,,,,"])
        assert cx.ingest(bad).rows_quarantined == 1
        inbox = ws.home / "inbox" / "api-1.jsonl"  # as the API writes a batch it received
        inbox.parent.mkdir(exist_ok=True)
        inbox.write_text(json.dumps({"event_id": "z2", "customer_id": cid}) + "\n")
        as_of = ws.events().ts.max().execute().to_pydatetime()
        cx.build_ledger(as_of)
        before = _promises(cx)
        others_before = before[before.customer_id != cid].reset_index(drop=True)
        events_before = int(ws.events().count().execute())
        theirs = int(ws.events().filter(ws.events().customer_id == cid).count().execute())
        audit_before = cx.audit()
        assert _store_hits(home, [cid, email, text])  # the test can fail

        done = corrections.forget(ws, cid, Operator("dpo", "admin"))

        assert done["leftovers"] == []
        assert done["counts"]["events"] == theirs and done["counts"]["notices"] == 1
        assert int(ws.events().count().execute()) == events_before - theirs
        assert _store_hits(home, [cid, email, text]) == []
        if settings:
            assert _pg_hits(settings["database_url"], [cid, email, text]) == []
        after = _promises(cx)
        assert cid not in set(after.customer_id)
        pd.testing.assert_frame_equal(after, others_before, check_dtype=False)

        audit = cx.audit()
        assert len(audit) == len(audit_before) + 1 and audit[-1]["action"] == "forget"
        assert audit[-1]["detail"]["erasure_id"] == done["erasure_id"]
        theirs_audit = [e for e in audit if e["case_id"] == case_id]
        erased = {"erased": done["erasure_id"]}
        assert theirs_audit and all(e["detail"] == erased for e in theirs_audit)
        assert [e["at"] for e in audit[:-1]] == [e["at"] for e in audit_before]
        case = cx.case(case_id)["case"]
        assert case["customer_id"] == f"erased-{done['erasure_id']}"
        erasure = corrections.erasures(ws)
        assert [e["erasure_id"] for e in erasure] == [done["erasure_id"]]
        assert not {cid, email} & set(json.dumps(erasure).split('"'))
        for sql in (
            "UPDATE audit SET amount = 1000",
            'UPDATE audit SET detail = \'{"erased": "ER-forged"}\'',
            "DELETE FROM audit",
        ):
            with pytest.raises(db.IntegrityError, match="append-only"), ws.state.connect() as con:
                con.execute(sql)
