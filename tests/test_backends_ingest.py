"""The ingest contract across engines: the embedded ingest (DuckDB into the Parquet log),
the PostgreSQL ingest (binary COPY into ``cx_events``) and the distributed Spark ingest
(``--engine spark``: Spark tasks into the Parquet log) load the same files into the same
event log (ids, content hashes, lineage), quarantine the same rows (file, row, field),
report the same counts, find the same conflicts, and append nothing when run again.

The expectations are written down from the files themselves (built below, row by row),
not taken from any engine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from cxloop.errors import Unsupported
from cxloop.services.log import spark_ingest
from cxloop.services.log.ingest import IngestReport, ingest_path
from cxloop.workspace.workspace import Workspace
from tests.engines import new_database

pytestmark = pytest.mark.slow

HEADER = "event_id,customer_id,event_type,ts,channel,ref,amount,due_at,attrs,region"
GOOD = [
    "e-1,cu-1,order_placed,2026-01-02T10:00:00Z,web,o-1,12.5,2026-01-06T00:00:00Z,,north",
    'e-2,cu-1,order_delivered,2026-01-04T10:00:00+02:00,carrier,o-1,,,"{""late"": true}",',
    "e-3,cu-2,order_placed,2026-01-03 09:30:00,web,o-2,99.99,,,south",
    ",cu-2,contact_inbound,2026-01-05T12:00:00Z,phone,,,,,",  # no id: one is derived
]
BAD = [
    "e-4,cu-3,order_placed,not-a-time,web,o-3,3,,,",  # row 5: ts
    "e-5,cu-3,teleported,2026-01-05T12:00:00Z,web,,,,,",  # row 6: event_type
    "e-6,,order_placed,2026-01-05T12:00:00Z,web,o-6,abc,,,",  # row 7: customer_id, amount
]
REPEATS = [
    "e-1,cu-1,order_placed,2026-01-02T10:00:00Z,web,o-1,12.5,2026-01-06T00:00:00Z,,north",
    "e-3,cu-2,order_placed,2026-01-03 09:30:00,web,o-2,5.00,,,south",  # row 9: conflict
]
JSONL = [
    {"event_id": "j-1", "customer_id": "cu-4", "event_type": "survey_response",
     "ts": "2026-01-07T08:00:00Z", "attrs": {"score": 9}},
    {"event_id": "j-2", "customer_id": "cu-4", "event_type": "order_placed", "ts": "yesterday"},
]  # fmt: skip
LATER = [  # a second load: one id already logged with other content, one new
    "e-2,cu-1,order_delivered,2026-01-04T10:00:00+02:00,carrier,o-1,1,,,",
    "e-7,cu-5,order_placed,2026-01-08T10:00:00Z,web,o-7,1,,,",
]
EXPECTED_PROBLEMS = {
    ("events.csv", 5, "ts"),
    ("events.csv", 6, "event_type"),
    ("events.csv", 7, "customer_id"),
    ("events.csv", 7, "amount"),
    ("events.csv", 9, "event_id"),
    ("more.jsonl", 2, "ts"),
}
ENGINES = ("embedded", "postgres", "spark")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ingest-contract")
    first = root / "first"
    first.mkdir()
    (first / "events.csv").write_text("\n".join([HEADER, *GOOD, *BAD, *REPEATS]) + "\n")
    (first / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in JSONL))
    later = root / "later.csv"
    later.write_text("\n".join([HEADER, *LATER]) + "\n")
    return {"first": first, "later": later}


def _log(ws: Workspace) -> list[tuple[Any, ...]]:
    """(event_id, content_hash, file name, row, source) of every logged event, sorted."""
    cols = "event_id, content_hash, source_file, source_row, source"
    if ws.log.backend == "postgres":
        with psycopg.connect(str(ws.settings.database_url)) as pg:
            rows = pg.execute(f"SELECT {cols} FROM cx_events").fetchall()
    else:
        rows = duckdb.sql(f"SELECT {cols} FROM {ws.log.relation_sql()}").fetchall()  # type: ignore[attr-defined]
    return sorted((e, h, Path(f).name, int(r), s) for e, h, f, r, s in rows)


def _plain(reason: str) -> str:
    """A reason without the (random) id of the ingest it names."""
    return re.sub(r"ingest \d{8}T\d{6}-[0-9a-f]{6}", "ingest <id>", reason)


def _summary(report: IngestReport) -> dict[str, Any]:
    return {
        "counts": (
            report.rows_read,
            report.events_new,
            report.events_duplicate,
            report.rows_quarantined,
            report.log_version,
        ),
        "problems": sorted(
            (Path(p.file).name, p.row, p.field, _plain(p.reason), p.value) for p in report.problems
        ),
    }


def _run(engine: str, data: dict[str, Path], home: Path, url: str | None) -> dict[str, Any]:
    """Load ``first``, again, then ``later``, on one engine; what each load said."""
    settings = {"database_url": url} if url else {}
    ws = Workspace.open(home, **settings)
    load = spark_ingest.ingest_path if engine == "spark" else ingest_path
    try:
        out: dict[str, Any] = {"first": _summary(load(ws, data["first"]))}
        out["log_first"] = _log(ws)
        out["again"] = _summary(load(ws, data["first"], force=True))
        out["log_again"] = _log(ws)
        out["later"] = _summary(load(ws, data["later"]))
        out["log_later"] = _log(ws)
        out["quarantine"] = sorted(
            (Path(q["file"]).name, q["row"], q["field"], _plain(q["reason"]))
            for q in ws.state.quarantined(current_only=True)
        )
        return out
    finally:
        ws.close()


@pytest.fixture(scope="module")
def results(
    data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, dict[str, Any]]:
    out = {}
    for engine in ENGINES:
        url = None
        if engine == "postgres":
            url = new_database(request.getfixturevalue("pg_server"), "ingest_contract")
        out[engine] = _run(engine, data, tmp_path_factory.mktemp(engine) / "store", url)
    return out


def test_embedded_load_is_what_the_files_say(results: dict[str, dict[str, Any]]) -> None:
    got = results["embedded"]
    # 9 CSV rows + 2 JSON lines; 4 good CSV rows + 1 repeat + 1 good line are events
    assert got["first"]["counts"] == (11, 5, 1, 5, 1)
    assert {p[:3] for p in got["first"]["problems"]} == EXPECTED_PROBLEMS
    ids = [e for e, *_ in got["log_first"]]
    assert ids[:3] == ["e-1", "e-2", "e-3"] and ids[3].startswith("g-") and ids[4:] == ["j-1"]
    assert got["again"]["counts"][1:3] == (0, 6) and got["log_again"] == got["log_first"]
    assert got["later"]["counts"] == (2, 1, 0, 1, 2)
    assert got["later"]["problems"] == [
        (
            "later.csv",
            1,
            "event_id",
            "event_id e-2 is already in the log with different content: amount, attrs "
            "(loaded by ingest <id>)",
            "e-2",
        )
    ]
    assert [e for e, *_ in got["log_later"]] == sorted([*ids, "e-7"])


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_engine_loads_the_same_log_and_quarantine(
    engine: str, results: dict[str, dict[str, Any]]
) -> None:
    assert results[engine] == results["embedded"]


def test_spark_ingest_refuses_other_mappings(tmp_path: Path, data: dict[str, Path]) -> None:
    ws = Workspace.open(tmp_path / "store")
    try:
        with pytest.raises(Unsupported, match="generic mapping only"):
            spark_ingest.ingest_path(ws, data["first"], source="olist")
    finally:
        ws.close()


def test_binary_copy_round_trips_every_log_type(pg_url: str) -> None:
    """Arrow batches encoded for PostgreSQL's binary COPY read back as DuckDB had them:
    NULLs, empty text, non-ASCII text, times before 2000 and with microseconds, negative
    and large integers, floats."""
    from cxloop.domain.events import LOG_COLUMNS
    from cxloop.store import pgcopy

    con = duckdb.connect()
    rows = con.execute("""
        SELECT * FROM (VALUES
          ('a', 'cu', 'order_placed', TIMESTAMP '2026-05-01 14:30:00.123456', NULL, 'wé😀',
           NULL, 1.5::DOUBLE, NULL::TIMESTAMP, '{"k": "ü"}', 's', 'f', 1::BIGINT, 'i', 'h'),
          ('b', '', 'x', TIMESTAMP '1901-01-01 00:00:00', 'd', '', 'r', -0.1::DOUBLE,
           TIMESTAMP '2199-12-31 23:59:59.999999', NULL, 's', 'f', -3000000000::BIGINT, 'i',
           'h2'))
    """)
    batch = rows.fetch_record_batch(10).read_next_batch()
    encoded = pgcopy.encode(batch, [c.dtype for c in LOG_COLUMNS])
    with psycopg.connect(pg_url) as pg:
        cols = ", ".join(f"c{i} {t}" for i, t in enumerate(
            ["TEXT"] * 3 + ["TIMESTAMP"] + ["TEXT"] * 3 + ["DOUBLE PRECISION", "TIMESTAMP"]
            + ["TEXT"] * 3 + ["BIGINT"] + ["TEXT"] * 2
        ))  # fmt: skip
        pg.execute(f"CREATE TEMP TABLE t ({cols})")
        with pg.cursor().copy("COPY t FROM STDIN (FORMAT binary)") as copy:
            copy.write(pgcopy.HEADER)
            copy.write(memoryview(encoded))
            copy.write(pgcopy.TRAILER)
        got = pg.execute("SELECT * FROM t ORDER BY c0").fetchall()
    assert got == con.execute("SELECT * FROM batch ORDER BY 1").fetchall()


def test_index_rebuild_gets_its_memory_for_the_transaction_only(pg_url: str) -> None:
    """The indexes an empty-log load drops come back with the same definitions, built
    with at least ``INDEX_BUILD_MEMORY`` of ``maintenance_work_mem`` (two parallel
    workers instead of PostgreSQL's default one); the session's setting is back after
    the commit."""
    from cxloop.store import db, pgappend

    db.migrate(pg_url)
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cx_events' ORDER BY 1"
    with psycopg.connect(pg_url) as pg:
        pg.execute("SET maintenance_work_mem = '64MB'")
        pg.commit()
        before = pg.execute(indexes).fetchall()
        dropped = pgappend.drop_indexes(pg)
        assert [name for name, *_ in dropped][:1] == ["cx_events_pkey"] and len(dropped) == 3
        assert pg.execute(indexes).fetchall() == []
        pgappend.build_indexes(pg, dropped)
        during = pg.execute("SHOW maintenance_work_mem").fetchone()
        pg.commit()
        assert during == (f"{pgappend.INDEX_BUILD_MEMORY >> 20}MB",)
        assert pg.execute("SHOW maintenance_work_mem").fetchone() == ("64MB",)
        assert pg.execute(indexes).fetchall() == before
