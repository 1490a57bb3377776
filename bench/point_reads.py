"""Point reads: one customer's timeline, promises and cases, in-process, on the embedded
store and on PostgreSQL, beside the engine's own hand-written query in the same run.

::

    python -m bench.point_reads --csv events_1m.csv --work DIR          # embedded only
    python -m bench.point_reads --csv events_1m.csv --work DIR --postgres
    python -m bench.point_reads --quick --work DIR                      # 20 k demo events

The CSV is a generic events file (``bench.scale_steps.generate``). The store
(``DIR/store``; on PostgreSQL a server this benchmark starts in ``DIR/pg``) is ingested,
its ledger built and its cases raised from signals once, then reused by later runs. For
``--customers`` random customers (seed 7), each read is timed in turn: cxloop's
``customer_timeline``, ``customer_promises`` and ``list_cases(customer_id=…)``, and the
engine's own SQL of the same read (DuckDB over the log's segments and the ledger file;
PostgreSQL over ``cx_events``, the ledger table and ``cases``; SQLite for the embedded
cases). The scan the timeline was before the customer-sorted copies (the Ibis
expression over the whole log) is timed for ``--scan-customers`` of them. The last line
of stdout is the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Timings = dict[str, list[float]]
MEMORY_LIMIT = "3GB"  # DuckDB's, while it writes the copies of an existing store


def pct(values: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds (nearest rank)."""
    ordered = sorted(values)
    p99 = ordered[max(0, round(0.99 * len(ordered)) - 1)]
    return {"n": len(values), "p50_ms": statistics.median(values) * 1e3, "p99_ms": p99 * 1e3}


def prepare(home: Path, csv: Path | None, url: str | None, raise_cases: bool) -> dict[str, float]:
    """Ingest ``csv`` into the store (unless done before), build the ledger, raise cases."""
    from cxloop.services.log.ingest import ingest_path
    from cxloop.services.log.point_reads import index_store
    from cxloop.services.promises.ledger import ensure_ledger
    from cxloop.services.recovery.cases import sync_cases
    from cxloop.workspace.workspace import Workspace

    extra: dict[str, Any] = {"database_url": url} if url else {}
    ws = Workspace.open(home, **extra)
    took: dict[str, float] = {}
    try:
        if ws.log.version == 0 and csv is not None:
            t = time.perf_counter()
            ingest_path(ws, csv, "generic")
            took["ingest_s"] = time.perf_counter() - t
        if not url:
            ws.duck.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        t = time.perf_counter()
        took["copies_written"] = sum(index_store(ws).values())
        took["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ensure_ledger(ws)
        took["ledger_s"] = time.perf_counter() - t
        if raise_cases:
            t = time.perf_counter()
            sync_cases(ws)
            took["cases_s"] = time.perf_counter() - t
    finally:
        ws.close()
    return took


def timed(out: Timings, name: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    started = time.perf_counter()
    value = fn(*args, **kw)
    out.setdefault(name, []).append(time.perf_counter() - started)
    return value


def measure(home: Path, url: str | None, customers: int, scan_customers: int) -> dict[str, Any]:
    from cxloop.services.log.timeline import customer_timeline, timeline_expr
    from cxloop.services.promises.ledger import customer_promises, ensure_ledger
    from cxloop.services.recovery import reads as case_reads
    from cxloop.workspace.workspace import Workspace

    extra: dict[str, Any] = {"database_url": url} if url else {}
    ws = Workspace.open(home, **extra)
    raw = Raw(ws, url)
    ids = raw.customers()
    sample = random.Random(7).sample(ids, min(customers, len(ids)))
    out: Timings = {}
    rows = {"events": 0, "promises": 0, "cases": 0}
    for c in sample[:3]:  # warm-up: footers, connections, the ledger's status
        customer_timeline(ws, c), customer_promises(ws, c), raw.timeline(c)
    for i, c in enumerate(sample):
        rows["events"] += len(timed(out, "timeline", customer_timeline, ws, c))
        rows["promises"] += len(timed(out, "promises", customer_promises, ws, c))
        rows["cases"] += len(timed(out, "cases", case_reads.list_cases, ws, customer_id=c))
        timed(out, "raw_promises", raw.promises, c)
        timed(out, "raw_cases", raw.cases, c)
        if i < scan_customers:
            timed(out, "raw_timeline", raw.timeline, c)
            timed(out, "scan_timeline", lambda c=c: timeline_expr(ws.events(), c).execute())
    status = ensure_ledger(ws)
    ws.close()
    raw.close()
    return {
        "customers_in_log": len(ids),
        "sampled": len(sample),
        "rows": rows,
        "ledger_promises": status.get("promises"),
        "reads": {k: pct(v) for k, v in out.items()},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class Raw:
    """The engine's own queries, hand-written, on a connection of their own."""

    def __init__(self, ws: Any, url: str | None) -> None:
        import duckdb

        from cxloop.services.promises.ledger import ledger_status

        self.url = url
        ledger = str(ledger_status(ws)["file"])
        if url:
            import psycopg

            from cxloop.engines.postgres import saved_table_name

            self.pg = psycopg.connect(url, autocommit=True)
            self.ledger = f'"{saved_table_name(ledger)}"'
            return
        files = ", ".join(f"'{p}'" for p in ws.log.segment_paths())
        self.log = f"read_parquet([{files}])"
        self.ledger = f"read_parquet('{ws.ledger_dir / ledger}')"
        self.duck = duckdb.connect()
        self.duck.execute("SET TimeZone = 'UTC'")
        self.sqlite = sqlite3.connect(ws.home / "state.sqlite")

    def _q(self, sql: str, key: str) -> list[Any]:
        if self.url:
            return self.pg.execute(sql.replace("?", "%s"), (key,)).fetchall()
        if "FROM cases" in sql:
            return self.sqlite.execute(sql, (key,)).fetchall()
        return self.duck.execute(sql, [key]).fetchall()

    def customers(self) -> list[str]:
        src = "cx_events" if self.url else self.log
        sql = f"SELECT DISTINCT customer_id FROM {src} WHERE customer_id <> ? ORDER BY 1"
        return [r[0] for r in self._q(sql, "")]

    def timeline(self, c: str) -> list[Any]:
        cols = "ts, department, event_type, channel, ref, amount, due_at, attrs, event_id, source"
        src = "cx_events" if self.url else self.log
        return self._q(f"SELECT {cols} FROM {src} WHERE customer_id = ? ORDER BY ts, event_id", c)

    def promises(self, c: str) -> list[Any]:
        sql = f"SELECT * FROM {self.ledger} WHERE customer_id = ? ORDER BY opened_at, promise_id"
        return self._q(sql, c)

    def cases(self, c: str) -> list[Any]:
        return self._q("SELECT * FROM cases WHERE customer_id = ? ORDER BY case_id", c)

    def close(self) -> None:
        for con in ("pg", "duck", "sqlite"):
            if hasattr(self, con):
                getattr(self, con).close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.point_reads", description=__doc__)
    parser.add_argument("--csv", type=Path, help="a generic events CSV")
    parser.add_argument("--work", type=Path, required=True, help="where the stores live")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--scan-customers", type=int, default=30)
    parser.add_argument("--cases", action="store_true", help="raise cases from signals first")
    parser.add_argument("--quick", action="store_true", help="the demo company, 20 k events")
    args = parser.parse_args(argv)
    if args.quick:
        args.csv = quick_csv(args.work)
        args.customers, args.scan_customers = min(args.customers, 200), 20
    result: dict[str, Any] = {"csv": str(args.csv.name) if args.csv else None}
    home = args.work / "store"
    result["embedded"] = {"prepare": prepare(home, args.csv, None, args.cases)}
    result["embedded"] |= measure(home, None, args.customers, args.scan_customers)
    if args.postgres:
        result["postgres"] = on_postgres(args)
    print(json.dumps(result))
    return 0


def on_postgres(args: argparse.Namespace) -> dict[str, Any]:
    from bench.scale import PgServer
    from cxloop.store import db

    server = PgServer(args.work / "pg")
    fresh = not (server.data / "PG_VERSION").exists()
    if fresh:
        server.start()
    else:
        # the server's output to a log file: on the pipe it would keep the call waiting
        log = str(server.data / "server.log")
        server._run(
            "pg_ctl", "-D", str(server.data), "-o", f"-p {server.port}", "-l", log, "-w", "start"
        )
    try:
        url = server.database("bench_points") if fresh else server.url
        if fresh:
            db.migrate(url)
        else:
            url = server.url.rsplit("/", 1)[0] + "/bench_points"
        home = args.work / "pg-home"
        res: dict[str, Any] = {
            "prepare": prepare(home, args.csv, url, args.cases),
            "server": server.version(),
        }
        return res | measure(home, url, args.customers, args.scan_customers)
    finally:
        server.stop()


def quick_csv(work: Path) -> Path:
    """About 20 k events of the generic generator (``bench.scale_steps.generate``)."""
    from bench.scale_steps import generate

    csv = work / "events_quick.csv"
    if not csv.exists():
        work.mkdir(parents=True, exist_ok=True)
        generate({"events": 20_000, "seed": 7, "csv": str(csv)})
    return csv


if __name__ == "__main__":
    sys.exit(main())
