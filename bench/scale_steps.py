"""The measured steps of the scale benchmark (:mod:`bench.scale`), one per process::

    python -m bench.scale_steps STEP '{"json": "arguments"}'

Like :mod:`bench.steps`, a step times only its operation (opening the workspace or the
connection included; the interpreter's start, the imports and, for Spark, the session's
start, reported apart as ``startup_seconds``, not) and prints ``RESULT_MARKER`` followed by
a JSON object with ``seconds``, ``peak_rss`` (this process's RSS high-water mark) and what
the step adds. Checks (row counts, promises per state) run after the timer stops.

``engine`` is ``duckdb`` (the embedded store in ``home``), ``postgres`` (``url``; ``home``
keeps only local files) or ``spark`` (local mode over the Parquet log in ``home``).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.steps import RESULT_MARKER, cpu_seconds, peak_rss, sql_text

HERE = Path(__file__).resolve().parent
REFERENCE_LEDGER = {
    "duckdb": HERE / "reference_ledger.sql",
    "postgres": HERE / "reference_ledger_pg.sql",
    "spark": HERE / "reference_ledger_spark.sql",
}
REFERENCE_BRIEF = HERE / "reference_brief_inputs.sql"
EVENTS_PER_ORDER = 5.24  # what the generator gives with 1-3 orders per customer

Args = dict[str, Any]
Result = dict[str, Any]


# ------------------------------------------------------------------ data
def generate(args: Args) -> Result:
    """About ``events`` events from about ``events / 10`` customers, as one generic CSV.

    The demo generator (:mod:`cxloop.demo.generator`: orders, shipments and deliveries
    kept, late or broken, invoices, support contacts with replies, callbacks and
    replacements, surveys and reviews with scores and text) with 1-3 orders per customer
    instead of the demo's 3-10, so that 10 M events come from about a million customers.
    """
    import numpy as np

    from cxloop.demo import generator as g

    target, seed = int(args["events"]), int(args["seed"])
    started = time.perf_counter()
    n_orders = max(1, round(target / EVENTS_PER_ORDER))
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 4, int(n_orders / 2 * 1.05) + 1)
    while counts.sum() < n_orders:
        counts = np.r_[counts, rng.integers(1, 4, len(counts) // 10 + 1)]
    cust = np.repeat(np.arange(len(counts), dtype=np.int64), counts)[:n_orders]
    customers = int(cust[-1]) + 1
    end = int(g.DEFAULT_END.timestamp())
    orders, typical, mood = g._orders(rng, customers, cust, end)
    del cust
    table, _ = g._events(rng, orders, typical, mood, end)
    del orders
    csv = Path(args["csv"])
    g.write_csv(table, csv)
    return {
        "seconds": time.perf_counter() - started,
        "events": table.num_rows,
        "orders": n_orders,
        "customers": customers,
        "csv_bytes": csv.stat().st_size,
    }


# ------------------------------------------------------------------ engines
def _workspace(args: Args) -> Any:
    from cxloop.workspace.workspace import Workspace

    engine = args["engine"]
    if engine == "postgres":
        return Workspace.open(args["home"], database_url=args["url"])
    if engine == "spark":
        return Workspace.open(args["home"], engine="spark")
    return Workspace.open(args["home"])


def _spark_session(ws: Any) -> tuple[Any, float]:
    """Start the process's Spark session (outside the timed part): it, and how long."""
    from cxloop.engines.spark import session

    started = time.perf_counter()
    spark = session(ws.settings)
    return spark, time.perf_counter() - started


def _counts(rows: Any) -> list[list[Any]]:
    return sorted([str(r), str(s), int(n)] for r, s, n in rows)


def raw_load(args: Args) -> Result:
    """The engine's own load of the CSV, without cxloop: DuckDB's ``COPY`` to a zstd
    Parquet file (what a log segment is); PostgreSQL's ``COPY FROM`` into a plain table of
    the same column types (no key, no index)."""
    if args["engine"] == "spark":
        return _spark_raw_load(args)
    if args["engine"] == "duckdb":
        import duckdb

        started, cpu = time.perf_counter(), cpu_seconds()
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * FROM read_csv({sql_text(args['csv'])})) "
            f"TO {sql_text(args['out'])} (FORMAT parquet, COMPRESSION zstd)"
        )
        con.close()
        return {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu}
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(args["url"], autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS raw_events")
        pg.execute(
            "CREATE TABLE raw_events (event_id TEXT, customer_id TEXT, event_type TEXT, "
            "ts TIMESTAMP, department TEXT, channel TEXT, ref TEXT, amount DOUBLE PRECISION, "
            "due_at TIMESTAMP, attrs TEXT)"
        )
        cols = "event_id, customer_id, event_type, ts, department, channel, ref, amount, due_at"
        sql = f"COPY raw_events FROM STDIN (FORMAT csv, HEADER true, FORCE_NULL ({cols}))"
        with pg.cursor().copy(sql) as copy, Path(args["csv"]).open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        pg.execute("DROP TABLE raw_events")
    return {"seconds": seconds}


def _spark_raw_load(args: Args) -> Result:
    """Spark's own load: ``spark.read.csv(...).write.parquet(...)`` (zstd), the session's
    start not counted."""
    from cxloop.engines.spark import session
    from cxloop.settings import Settings

    spark_started = time.perf_counter()
    spark = session(Settings.from_env(None, home=args["home"], engine="spark"))
    startup = time.perf_counter() - spark_started
    started = time.perf_counter()
    frame = spark.read.options(header=True, escape='"', multiLine=True).csv(args["csv"])
    frame.write.mode("overwrite").option("compression", "zstd").parquet(args["out"])
    return {"seconds": time.perf_counter() - started, "startup_seconds": startup}


FLOOR_PARTS = ("read", "stage", "stage_write", "stage_sorted")


def ingest_floor(args: Args) -> Result:
    """One part of the embedded ingest's work alone (``part``), on the ingest's settings
    (``CXLOOP_INGEST_MEMORY``, spill directory) in the store ``home``, for
    :mod:`bench.ingest_floor`:

    - ``read``: the CSV into a DuckDB table, every column text, nothing checked;
    - ``stage``: cxloop's own staging of the file through the generic mapping (read, map,
      check and hash every row, the quarantine's problems worked out), what every ingest
      does first;
    - ``stage_write``: that, then the staged rows to a zstd Parquet file (``out``) in the
      file's order: no duplicate check, no sort, no customer copy, no commit;
    - ``stage_sorted``: the same written in the log's segment order (one sort)."""
    import duckdb

    from cxloop.services.log.ingest import bound, resolve_mapping, vocabulary
    from cxloop.store.eventlog import SEGMENT_ORDER, row_group_rows
    from cxloop.workspace.workspace import Workspace

    part = args["part"]
    if part not in FLOOR_PARTS:
        raise ValueError(f"part must be one of {FLOOR_PARTS}, not {part!r}")
    ws = Workspace.open(args["home"])
    con = duckdb.connect()
    started, cpu = time.perf_counter(), cpu_seconds()
    try:
        ws.configure(con)
        bound(con, ws)
        vocabulary(ws).apply(con)
        if part == "read":
            con.execute(
                "CREATE TEMP TABLE _raw AS SELECT * FROM "
                f"read_csv({sql_text(args['csv'])}, header = true, all_varchar = true)"
            )
            (rows,) = con.execute("SELECT count(*) FROM _raw").fetchone() or (0,)
            bad = 0
        else:
            staged = resolve_mapping("generic").stage(con, Path(args["csv"]), "_staged")
            rows, bad = staged.rows_read, len({(p.file, p.row) for p in staged.problems})
            if part != "stage":
                order = f" ORDER BY {SEGMENT_ORDER}" if part == "stage_sorted" else ""
                con.execute(
                    f"COPY (SELECT * FROM {staged.table}{order}) TO {sql_text(args['out'])} "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {row_group_rows(con)})"
                )
        seconds, used = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        con.close()
        ws.close()
    return {"seconds": seconds, "cpu_seconds": used, "rows_read": int(rows), "rows_bad": bad}


def ingest(args: Args) -> Result:
    """``ingest_path(ws, csv, "generic")`` into a new store (DuckDB) or database; with
    engine ``spark``, the distributed ingest into a new embedded store (the session's
    start not counted)."""
    from cxloop.services.log import spark_ingest
    from cxloop.services.log.ingest import ingest_path
    from cxloop.workspace.workspace import Workspace

    load = ingest_path
    startup = 0.0
    if args["engine"] == "spark":
        ws = Workspace.open(args["home"])
        startup = _spark_session(ws)[1]
        ws.close()
        load = spark_ingest.ingest_path
    started, cpu = time.perf_counter(), cpu_seconds()
    ws = Workspace.open(args["home"]) if args["engine"] == "spark" else _workspace(args)
    try:
        report = load(ws, args["csv"], "generic", force=bool(args.get("force")))
    finally:
        ws.close()
    return {
        "startup_seconds": startup,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "rows_read": report.rows_read,
        "events_new": report.events_new,
        "events_duplicate": report.events_duplicate,
        "rows_quarantined": report.rows_quarantined,
    }


def ledger(args: Args) -> Result:
    """``build_ledger(ws)`` on the engine; then (untimed) its promises per rule and state."""
    from cxloop.services.promises.ledger import build_ledger, promises_table

    ws = _workspace(args)
    startup = _spark_session(ws)[1] if args["engine"] == "spark" else 0.0
    started = time.perf_counter()
    build = build_ledger(ws)
    seconds = time.perf_counter() - started
    t = promises_table(ws, refresh=False)
    states = t.group_by(["rule", "state"]).aggregate(n=t.count()).execute()
    ws.close()
    return {
        "seconds": seconds,
        "startup_seconds": startup,
        "promises": build.promises,
        "states": _counts(states.itertuples(index=False)),
    }


def reference_ledger(args: Args) -> Result:
    """The hand-written ledger SQL of the engine (``bench/reference_ledger*.sql``), over
    the same log, its result stored as cxloop stores the ledger there (a Parquet file, a
    table, a Parquet directory); then (untimed) its promises per rule and state."""
    engine = args["engine"]
    query = REFERENCE_LEDGER[engine].read_text()
    if engine == "duckdb":
        return _reference_ledger_duckdb(args, query)
    if engine == "postgres":
        return _reference_ledger_pg(args, query)
    return _reference_ledger_spark(args, query)


def _log_files(home: str) -> list[str]:
    log = Path(home) / "events"
    manifest = json.loads((log / "manifest.json").read_text())
    return [str((log / s["file"]).resolve()) for s in manifest["segments"]]


def _reference_ledger_duckdb(args: Args, query: str) -> Result:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = ", ".join(sql_text(p) for p in _log_files(args["home"]))
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    con.execute(f"COPY ({query}) TO {sql_text(args['out'])} (FORMAT parquet)")
    seconds = time.perf_counter() - started
    states = con.execute(
        f"SELECT rule, state, count(*) FROM read_parquet({sql_text(args['out'])}) GROUP BY ALL"
    ).fetchall()
    con.close()
    return {"seconds": seconds, "promises": sum(n for *_, n in states), "states": _counts(states)}


def _reference_ledger_pg(args: Args, query: str) -> Result:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(args["url"], autocommit=True) as pg:
        pg.execute("SET TIME ZONE 'UTC'")
        pg.execute("DROP TABLE IF EXISTS ref_ledger")
        pg.execute(f"CREATE TABLE ref_ledger AS {query}")  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        states = pg.execute("SELECT rule, state, count(*) FROM ref_ledger GROUP BY 1, 2").fetchall()
        pg.execute("DROP TABLE ref_ledger")
    return {"seconds": seconds, "promises": sum(n for *_, n in states), "states": _counts(states)}


def _reference_ledger_spark(args: Args, query: str) -> Result:
    from cxloop.engines.spark import session
    from cxloop.settings import Settings

    settings = Settings.from_env(None, home=args["home"], engine="spark")
    started = time.perf_counter()
    spark = session(settings)
    startup = time.perf_counter() - started
    started = time.perf_counter()
    spark.read.parquet(*_log_files(args["home"])).createOrReplaceTempView("events")
    spark.sql(query).write.mode("overwrite").parquet(args["out"])
    promises = spark.read.parquet(args["out"]).count()
    seconds = time.perf_counter() - started
    states = spark.read.parquet(args["out"]).groupBy("rule", "state").count().collect()
    return {
        "seconds": seconds,
        "startup_seconds": startup,
        "promises": int(promises),
        "states": _counts(states),
    }


def brief(args: Args) -> Result:
    """``brief_inputs(ws)``: the brief's engine-side queries over the log and the built
    ledger, every result fetched; the rows of each part."""
    from cxloop.services.brief.inputs import brief_inputs

    ws = _workspace(args)
    startup = _spark_session(ws)[1] if args["engine"] == "spark" else 0.0
    started = time.perf_counter()
    counts = brief_inputs(ws)
    seconds = time.perf_counter() - started
    ws.close()
    return {"seconds": seconds, "startup_seconds": startup, "rows": counts}


def reference_brief(args: Args) -> Result:
    """The hand-written DuckDB SQL of ``bench/reference_brief_inputs.sql`` over the same
    log segments and built ledger, every result fetched (as Arrow)."""
    import duckdb

    queries = _named_queries(REFERENCE_BRIEF.read_text())
    home = Path(args["home"])
    built = json.loads((home / "ledger" / "manifest.json").read_text())
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = ", ".join(sql_text(p) for p in _log_files(args["home"]))
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    ledger_file = sql_text(home / "ledger" / built["file"])
    con.execute(f"CREATE VIEW ledger AS SELECT * FROM read_parquet({ledger_file})")
    con.execute(f"CREATE MACRO as_of_ts() AS TIMESTAMP {sql_text(built['as_of'])}")
    rows = {name: con.execute(sql).fetch_arrow_table().num_rows for name, sql in queries.items()}
    seconds = time.perf_counter() - started
    con.close()
    rows["incident_cells"] = sum(n for k, n in rows.items() if k.startswith("incident_cells."))
    return {"seconds": seconds, "rows": rows}


def scan_brief(args: Args) -> Result:
    """DuckDB's raw scan of what the brief inputs read, without cxloop: every row of the
    log segments, the columns the queries read (attrs included), aggregated so that each
    is read; and the built ledger's rows. The floor under any brief-inputs time."""
    import duckdb

    home = Path(args["home"])
    built = json.loads((home / "ledger" / "manifest.json").read_text())
    started = time.perf_counter()
    con = duckdb.connect()
    files = ", ".join(sql_text(p) for p in _log_files(args["home"]))
    events = con.execute(
        "SELECT count(*), count(event_id), count(customer_id), count(ref), max(ts), "
        "sum(amount), max(length(event_type)), max(length(department)), "
        f"sum(length(attrs)) FROM read_parquet([{files}])"
    ).fetchone()
    ledger_file = sql_text(home / "ledger" / built["file"])
    promises = con.execute(f"SELECT count(*) FROM read_parquet({ledger_file})").fetchone()
    seconds = time.perf_counter() - started
    con.close()
    assert events is not None and promises is not None
    return {"seconds": seconds, "events": int(events[0]), "promises": int(promises[0])}


def _named_queries(text: str) -> dict[str, str]:
    """``-- name: X`` followed by one query (up to its ``;``), for each X."""
    out: dict[str, str] = {}
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        out[name.strip()] = body.strip().rstrip(";")
    return out


def explain_brief(args: Args) -> Result:
    """Each brief-input query's time on its own, cxloop's and the reference's (DuckDB)."""
    import duckdb

    from cxloop.services.brief.inputs import brief_input_exprs

    ws = _workspace(args)
    out: dict[str, list[float]] = {}
    started = time.perf_counter()
    with brief_input_exprs(ws) as exprs:
        out["prepare"] = [time.perf_counter() - started]
        for name, expr in exprs.items():
            started = time.perf_counter()
            ws.ibis.to_pyarrow(expr)
            out[name] = [time.perf_counter() - started]
    ws.close()
    home = Path(args["home"])
    built = json.loads((home / "ledger" / "manifest.json").read_text())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = ", ".join(sql_text(p) for p in _log_files(args["home"]))
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    con.execute(
        "CREATE VIEW ledger AS SELECT * FROM "
        f"read_parquet({sql_text(home / 'ledger' / built['file'])})"
    )
    con.execute(f"CREATE MACRO as_of_ts() AS TIMESTAMP {sql_text(built['as_of'])}")
    for name, sql in _named_queries(REFERENCE_BRIEF.read_text()).items():
        started = time.perf_counter()
        con.execute(sql).fetch_arrow_table()
        out.setdefault(name, [float("nan")]).append(time.perf_counter() - started)
    return {"seconds": 0.0, "parts": out}


STEPS: dict[str, Callable[[Args], Result]] = {
    "generate": generate,
    "raw_load": raw_load,
    "ingest": ingest,
    "ingest_floor": ingest_floor,
    "ledger": ledger,
    "reference_ledger": reference_ledger,
    "brief": brief,
    "reference_brief": reference_brief,
    "scan_brief": scan_brief,
    "explain_brief": explain_brief,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STEPS:
        print(
            f"usage: python -m bench.scale_steps {{{','.join(STEPS)}}} JSON-ARGS", file=sys.stderr
        )
        return 2
    result = STEPS[argv[0]](json.loads(argv[1]))
    result["peak_rss"] = peak_rss()
    print("\n" + RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
