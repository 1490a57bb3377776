"""The measured steps. ``bench.run`` starts each one in a fresh process::

    python -m bench.steps STEP '{"json": "arguments"}'

so that its peak memory is that of the one operation. A step times only its
operation (opening the store or the DuckDB connection included, the interpreter's
start and the imports not) and prints one result line, ``RESULT_MARKER`` followed
by a JSON object with ``seconds``, ``peak_rss`` (bytes: the process's RSS
high-water mark at its end) and what the step adds.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULT_MARKER = "BENCH-RESULT "
REFERENCE_SQL = Path(__file__).with_name("reference_ledger.sql")

Args = dict[str, Any]
Result = dict[str, Any]


def run_marked(
    module: str, mark: str, args: Sequence[str], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``python -m module --step ARGS`` from the repository's root in a fresh process
    and return the JSON object it printed after ``mark``; a step that printed none is an
    error with the end of its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--step", *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(mark):
            return json.loads(line[len(mark) :])  # type: ignore[no-any-return]
    raise RuntimeError(f"step {args[0]} failed:\n{done.stderr[-3000:]}")


def peak_rss() -> int:
    """The RSS high-water mark of this process, in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def cpu_seconds() -> float:
    """This process's user + system CPU seconds so far (DuckDB's threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sql_text(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def generate(args: Args) -> Result:
    """Generate events and write them as one generic CSV.

    With ``target_events``, look for the ``n_orders`` whose event count is closest
    to it (the generator is deterministic, so a few tries suffice); else use
    ``n_orders``.
    """
    from cxloop.demo import generate_events, write_csv

    seed = int(args["seed"])
    target = args.get("target_events")
    started = time.perf_counter()
    if target is None:
        n_orders = int(args["n_orders"])
        table = generate_events(n_orders=n_orders, seed=seed)
        tries = 1
    else:
        n_orders, table, tries = _orders_for(int(target), seed, generate_events)
    seconds = time.perf_counter() - started
    csv = Path(args["csv"])
    write_csv(table, csv)
    return {
        "seconds": seconds,
        "n_orders": n_orders,
        "events": table.num_rows,
        "csv_bytes": csv.stat().st_size,
        "tries": tries,
    }


def _orders_for(
    target: int, seed: int, generate_events: Callable[..., Any]
) -> tuple[int, Any, int]:
    n_orders, tries = max(1, round(target / 5)), 0
    best: tuple[int, Any] | None = None
    while tries < 6:
        tries += 1
        table = generate_events(n_orders=n_orders, seed=seed)
        if best is None or abs(table.num_rows - target) < abs(best[1].num_rows - target):
            best = (n_orders, table)
        del table
        if abs(best[1].num_rows - target) <= target // 1000:
            break
        guess = max(1, round(best[0] * target / best[1].num_rows))
        if guess == n_orders:
            break
        n_orders = guess
    assert best is not None
    return best[0], best[1], tries


def duckdb_copy(args: Args) -> Result:
    """The storage engine's own load: CSV to a zstd Parquet file (what a log segment is)."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv({sql_text(args['csv'])})) "
        f"TO {sql_text(args['out'])} (FORMAT parquet, COMPRESSION zstd)"
    )
    con.close()
    return {"seconds": time.perf_counter() - started}


def duckdb_table(args: Args) -> Result:
    """The storage engine's own load into its own format: a table in a DuckDB file."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(args["db"]))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv({sql_text(args['csv'])})")
    con.close()
    return {"seconds": time.perf_counter() - started}


def ingest(args: Args) -> Result:
    """``cxloop.open(home).ingest(path, source)``."""
    import cxloop

    started = time.perf_counter()
    with cxloop.open(args["home"]) as cx:
        report = cx.ingest(args["path"], source=args["source"])
    return {
        "seconds": time.perf_counter() - started,
        "rows_read": report.rows_read,
        "events_new": report.events_new,
        "events_duplicate": report.events_duplicate,
        "rows_quarantined": report.rows_quarantined,
    }


def ledger(args: Args) -> Result:
    """``cxloop.open(home).build_ledger()``."""
    import cxloop

    started = time.perf_counter()
    with cxloop.open(args["home"]) as cx:
        build = cx.build_ledger()
        seconds = time.perf_counter() - started
        path = cx.workspace.ledger_dir / build.file
    return {"seconds": seconds, "promises": build.promises, "file": str(path)}


def reference_ledger(args: Args) -> Result:
    """The hand-written SQL of ``reference_ledger.sql`` over the same log segments
    (DuckDB alone: no cxloop, no Ibis)."""
    import duckdb

    query = REFERENCE_SQL.read_text()
    started = time.perf_counter()
    log = Path(args["home"]) / "events"  # the event log: manifest.json lists its segments
    manifest = json.loads((log / "manifest.json").read_text())
    segments = [log / segment["file"] for segment in manifest["segments"]]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = ", ".join(sql_text(p) for p in segments)
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    con.execute(f"COPY ({query}) TO {sql_text(args['out'])} (FORMAT parquet)")
    con.close()
    return {"seconds": time.perf_counter() - started, "file": str(args["out"])}


def compare_ledgers(args: Args) -> Result:
    """Both ledgers' promise counts by rule and state; promise by promise, how many differ
    in state, and how many rows differ in any column."""
    import duckdb

    files = {k: f"read_parquet({sql_text(args[k])})" for k in ("ledger", "reference")}
    a, b = files["ledger"], files["reference"]
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    states = {
        k: [
            [rule, state, int(n)]
            for rule, state, n in con.execute(
                f"SELECT rule, state, count(*) FROM {rel} GROUP BY ALL ORDER BY ALL"
            ).fetchall()
        ]
        for k, rel in files.items()
    }
    missing, state_diff = con.execute(f"""
        SELECT count(*) FILTER (WHERE a.promise_id IS NULL OR b.promise_id IS NULL),
               count(*) FILTER (WHERE a.state IS DISTINCT FROM b.state)
        FROM {a} a FULL JOIN {b} b ON a.promise_id = b.promise_id
    """).fetchone() or (0, 0)
    (rows_diff,) = con.execute(f"""
        SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}))
             + (SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}))
    """).fetchone() or (0,)
    same_columns = (
        con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()
        == con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()
    )
    return {
        "seconds": time.perf_counter() - started,
        "states": states,
        "missing": int(missing),
        "state_diff": int(state_diff),
        "rows_diff": int(rows_diff),
        "same_columns": same_columns,
    }


def baseline(args: Args) -> Result:
    """Nothing but the imports and opening a store: the floor under every cxloop figure."""
    import cxloop

    started = time.perf_counter()
    with cxloop.open(args["home"]):
        pass
    return {"seconds": time.perf_counter() - started}


STEPS: dict[str, Callable[[Args], Result]] = {
    "generate": generate,
    "duckdb_copy": duckdb_copy,
    "duckdb_table": duckdb_table,
    "ingest": ingest,
    "ledger": ledger,
    "reference_ledger": reference_ledger,
    "compare_ledgers": compare_ledgers,
    "baseline": baseline,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STEPS:
        print(f"usage: python -m bench.steps {{{','.join(STEPS)}}} JSON-ARGS", file=sys.stderr)
        return 2
    result = STEPS[argv[0]](json.loads(argv[1]))
    result["peak_rss"] = peak_rss()
    print("\n" + RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
