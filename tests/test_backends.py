"""One contract, every backend: the embedded store (DuckDB over Parquet), PostgreSQL
(state, event log and analytics in a real server started for the session), Spark local
mode over the store's Parquet log, and Spark over an exported Parquet file (as on an
object store).

Each backend must give the embedded store's answers. What a backend cannot do is declared
in :data:`tests.engines.UNSUPPORTED` with the exception it raises, and the suite checks that
it raises it: nothing is skipped. The stores (``backend``, ``reference``) are built once per
test process and shared by every ``tests/test_backends*.py`` module (tests/engines.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

import cxloop
from cxloop.api import create_app
from cxloop.errors import ConfigError
from cxloop.services.brief.inputs import brief_inputs
from cxloop.services.log.ingest import compact, ingest_path
from cxloop.services.log.transfer import export_log, import_log
from cxloop.services.promises import ledger as ledger_service
from cxloop.services.voice.analysis import Voice
from cxloop.settings import Settings
from cxloop.store import db
from cxloop.workspace.workspace import Workspace
from tests.conftest import shared_dataset
from tests.engines import ENGINES, Backend, new_database

pytestmark = pytest.mark.slow


def _ledger(ws: Workspace) -> pd.DataFrame:
    t = ledger_service.promises_table(ws)
    cols = ["promise_id", "customer_id", "kind", "state", "broken_reason", "due_at", "fulfilled_at"]
    cols.append("amount")
    df = t.select(*cols).execute()
    return df.sort_values("promise_id").reset_index(drop=True)


@pytest.fixture(scope="session")
def reference_ledger(reference: Path) -> pd.DataFrame:
    ws = Workspace.open(reference)
    try:
        return _ledger(ws)
    finally:
        ws.close()


def _same(ours: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    a = ours.sort_values(keys).reset_index(drop=True)
    b = want.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)


def test_ledger_is_the_embedded_ledger(backend: Backend, reference_ledger: pd.DataFrame) -> None:
    ws = backend.open()
    try:
        build = ledger_service.build_ledger(ws)
        assert build.engine == ws.engine
        assert build.promises == len(reference_ledger)
        ours = _ledger(ws)
    finally:
        ws.close()
    want = reference_ledger.copy()
    for col in ("due_at", "fulfilled_at"):  # engines hand back their own datetime units
        ours[col] = pd.to_datetime(ours[col]).astype("datetime64[us]")
        want[col] = pd.to_datetime(want[col]).astype("datetime64[us]")
    _same(ours, want, ["promise_id"])
    assert set(ours.state) >= {"kept", "exceeded", "broken", "at_risk", "open"}


def _answers(cx: cxloop.Cxloop, customers: list[str] | None = None) -> dict[str, Any]:
    """Everything the contract compares beyond the ledger, from one store."""
    if customers is None:
        counts = cx.events().customer_id.value_counts().execute()
        customers = sorted(counts.sort_values("customer_id_count").customer_id.tail(3))
    voice = Voice(cx.workspace)
    incidents = cx.detect_incidents()
    top = cx.brief()["one_thing"]
    return {
        "customers": customers,
        "by_kind": cx.promise_report(),
        "by_department": cx.promise_report(by="department"),
        "score_by_state": cx.score_by_state(),
        "timelines": {c: list(cx.timeline(c).event_id) for c in customers},
        "baselines": {c: cx.baselines(c) for c in customers},
        "scores": voice.scores(),
        "scores_by_channel": voice.scores(by="channel"),
        "incidents": {i.incident_id: (i.n, i.hits) for i in incidents},
        "signals": cx.sync_cases().signals_found,
        "one_thing": (top["key"], top["customers"]),
        "brief_inputs": brief_inputs(cx.workspace),
    }


@pytest.fixture(scope="session")
def expected(reference: Path) -> dict[str, Any]:
    with cxloop.open(reference) as cx:
        return _answers(cx)


# the analytics beyond the ledger run the same code on Spark whatever Parquet it reads,
# so the export variant is held to the ledger and the write contract only
@pytest.mark.parametrize("backend", ENGINES, indirect=True)
def test_reports_voice_incidents_cases_and_brief_match(
    backend: Backend, expected: dict[str, Any]
) -> None:
    with backend.cx() as cx:
        got = _answers(cx, expected["customers"])
    _same(got["by_kind"], expected["by_kind"], ["kind"])
    _same(got["by_department"], expected["by_department"], ["department"])
    _same(got["score_by_state"], expected["score_by_state"], ["state"])
    for c in expected["customers"]:
        assert got["timelines"][c] == expected["timelines"][c] != []
        _same(got["baselines"][c], expected["baselines"][c], ["rule"])
    _same(got["scores"], expected["scores"], ["metric"])
    _same(got["scores_by_channel"], expected["scores_by_channel"], ["channel", "metric"])
    assert got["incidents"] == expected["incidents"] != {}
    assert got["signals"] == expected["signals"] > 0
    assert got["one_thing"] == expected["one_thing"]
    assert got["brief_inputs"] == expected["brief_inputs"]
    assert expected["brief_inputs"]["signals"] > 0


def test_ingest_is_idempotent_and_quarantines(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data = tmp_path / "events.csv"
    data.write_text(
        "event_id,customer_id,event_type,ts,ref,amount,due_at,ship_by\n"
        "c-1,cust-1,order_placed,2026-01-02T10:00:00Z,o-1,12.5,2026-01-06T00:00:00Z,soon\n"
        "c-2,cust-1,order_delivered,2026-01-04T10:00:00Z,o-1,,,\n"
        "c-3,cust-2,order_placed,not-a-time,o-2,3,,\n"
        "c-1,cust-1,order_placed,2026-01-02T11:00:00Z,o-1,12.5,2026-01-06T00:00:00Z,soon\n"
    )
    settings = dict(backend.settings)
    if backend.name == "postgres":
        settings["database_url"] = new_database(request.getfixturevalue("pg_server"), "ingest")
    ws = Workspace.open(tmp_path / "store", **settings)
    try:
        first = backend.does("ingest", lambda: ingest_path(ws, data))
        if first is None:
            return
        assert (first.events_new, first.rows_quarantined) == (2, 2)
        fields = {(Path(p.file).name, p.row, p.field) for p in first.problems}
        assert ("events.csv", 3, "ts") in fields and ("events.csv", 4, "event_id") in fields
        again = ingest_path(ws, data, force=True)
        assert (again.events_new, again.events_duplicate) == (0, 2)
        assert int(ws.events().count().execute()) == 2
        assert ws.log.version == 1
        # an attribute that is not what a rule reads it as ("soon" as ship_by, a time) is
        # NULL on every engine, not an error that aborts the build
        build = ledger_service.build_ledger(ws)
        t = ledger_service.promises_table(ws)
        assert build.promises == 1 and t.state.execute().tolist() == ["kept"]
    finally:
        ws.close()


def test_export_import_round_trip(backend: Backend, tmp_path: Path, demo_export: Path) -> None:
    ws = backend.open()
    try:
        out = export_log(ws, tmp_path / "out")
        want = json.loads((demo_export / "manifest.json").read_text())
        assert (out["rows"], out["checksum"]) == (want["rows"], want["checksum"])
        again = backend.does("import", lambda: import_log(ws, demo_export))
        if again is not None:  # everything is already there: a verified no-op
            assert again["verified"] and again["events_new"] == 0
        target = Workspace.open(tmp_path / "embedded")
        moved = import_log(target, tmp_path / "out")
        assert moved["verified"] and moved["events_new"] == want["rows"]
        target.close()
        done = backend.does("compact", lambda: compact(ws))
        if done is not None:
            assert done["rows"] == want["rows"]
    finally:
        ws.close()


def test_settings_refuse_what_no_backend_does(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="database_url"):
        Settings.from_env({}, database_url="mysql://x/y")
    with pytest.raises(ConfigError, match="engine"):
        Settings.from_env({}, engine="spark", database_url="postgresql://u@h/db")
    with pytest.raises(ConfigError, match="engine"):
        Settings.from_env({}, engine="postgres")
    with pytest.raises(ConfigError, match="engine"):
        Settings.from_env({}, engine="oracle")


def test_api_serves_a_postgresql_store(
    pg_server: str, demo_export: Path, reference: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from cxloop.services.access.permissions import create_key
    from cxloop.services.recovery.policy import load_policy

    url = new_database(pg_server, "api")
    settings = Settings.from_env({}, home=tmp_path / "home", database_url=url)
    ws = Workspace(settings)
    try:
        import_log(ws, demo_export)
        key = create_key(ws, "lead-1", "lead", load_policy(None))[0]
    finally:
        ws.close()
    auth = {"Authorization": f"Bearer {key}"}
    ref = cxloop.open(reference)
    cid = str(ref.events().customer_id.min().execute())
    with TestClient(create_app(settings)) as client:
        timeline = client.get(f"/api/v1/customers/{cid}/timeline", headers=auth)
        assert timeline.status_code == 200, timeline.text
        assert len(timeline.json()["items"]) == len(ref.timeline(cid))
        report = client.get("/api/v1/promises/report", headers=auth)
        assert report.status_code == 200, report.text
        page = client.get("/api/v1/promises?limit=1", headers=auth).json()
        assert page["total"] == int(ref.ledger().count().execute())
    ref.close()


@pytest.mark.olist
def test_olist_ledger_is_the_same_on_every_backend(pg_server: str, tmp_path: Path) -> None:
    """The issue's check: the same ledger numbers on Olist from every backend."""
    data = shared_dataset("olist")
    embedded = Workspace.open(tmp_path / "embedded")
    pg = Workspace.open(tmp_path / "pg", database_url=new_database(pg_server, "olist"))
    spark = Workspace.open(tmp_path / "embedded", engine="spark")
    try:
        a = ingest_path(embedded, data, source="olist")
        b = ingest_path(pg, data, source="olist")  # the PostgreSQL ingest path, not an import
        assert (a.events_new, a.rows_quarantined) == (b.events_new, b.rows_quarantined)
        counts, states = {}, {}
        for ws in (embedded, pg, spark):
            ledger_service.build_ledger(ws)
            t = ledger_service.promises_table(ws)
            frame = t.group_by(["kind", "state", "broken_reason"]).aggregate(n=t.count())
            counts[ws.engine] = {
                (r.kind, r.state, r.broken_reason if isinstance(r.broken_reason, str) else None): (
                    int(r.n)
                )
                for r in frame.execute().itertuples()
            }
            states[ws.engine] = dict(t.select("promise_id", "state").execute().values.tolist())
        assert counts["duckdb"] == counts["postgres"] == counts["spark"]
        assert states["duckdb"] == states["postgres"] == states["spark"]
        # the delivery promises docs/olist.md reports for this export
        assert sum(counts["duckdb"].values()) == 8127
        assert counts["duckdb"][("delivery", "broken", "late")] == 343
    finally:
        for ws in (embedded, pg, spark):
            ws.close()


def test_cli_on_postgresql(
    pg_server: str, demo_store: Path, reference: Path, tmp_path: Path
) -> None:
    """The commands, as a user runs them, against a PostgreSQL store."""
    from typer.testing import CliRunner

    from cxloop.cli.main import app
    from tests.test_cli import run

    url = f"{pg_server}/cli"
    with psycopg.connect(pg_server + "/postgres", autocommit=True) as con:
        con.execute('CREATE DATABASE "cli"')
    home = tmp_path / "home"

    def cx(*args: str, check: bool = True) -> Any:
        return run(home, *args, check=check, env={"CXLOOP_DATABASE_URL": url})

    refused = cx("ledger", "status", check=False)
    assert refused.returncode != 0 and "cxloop migrate" in refused.stderr
    assert db.HEAD in cx("migrate").stdout
    loaded = cx("ingest", str(demo_store.parent / "data"))
    assert "quarantined" in loaded.stdout
    cx("ledger", "build")
    ours = json.loads(cx("promises", "--format", "json").stdout)
    # the embedded side in this process (what is tested is the PostgreSQL store, not the
    # embedded one's CLI: a process more would cost an import of cxloop)
    mine = CliRunner().invoke(app, ["promises", "--format", "json", "--home", str(reference)])
    assert mine.exit_code == 0, mine.output
    theirs = json.loads(mine.stdout)
    assert ours == theirs
    assert "cases" in cx("cases", "sync").stdout.lower()
    moved = json.loads(cx("export", str(tmp_path / "out"), "--report", "json").stdout)
    assert moved["rows"] == int(Workspace.open(reference).events().count().execute())


def test_spark_views_are_named_after_the_files_they_read(tmp_path: Path) -> None:
    """A Spark view over local Parquet is registered once per name, and the name follows
    the files: a segment rewritten in place (as ``forget`` does) or a ledger directory with
    another file gets a new view, not the one registered over the old files."""
    from cxloop.engines.spark import _local_stamp

    seg, ledger = tmp_path / "seg-1.parquet", tmp_path / "ledger"
    seg.write_bytes(b"one")
    ledger.mkdir()
    (ledger / "part-0.parquet").write_bytes(b"a")
    before = _local_stamp([str(seg), str(ledger)])
    assert before == _local_stamp([str(seg), "file://" + str(ledger)])
    rewritten = tmp_path / "tmp"
    rewritten.write_bytes(b"two!")
    rewritten.replace(seg)
    assert _local_stamp([str(seg), str(ledger)]) != before
    (ledger / "part-1.parquet").write_bytes(b"b")
    assert len(_local_stamp([str(ledger)]) or ()) == 2
    assert _local_stamp(["s3a://bucket/cx/events"]) is None
    assert _local_stamp([str(tmp_path / "gone.parquet")]) is None
