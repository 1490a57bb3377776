"""The funnel benchmark: a 4-step funnel (order placed → shipped → delivered → reviewed,
30-day window) over generated events, cxloop's Ibis funnel against the same funnel written
by hand for DuckDB (``bench/reference_funnel.sql``, ASOF joins) on the same Parquet log.

::

    python -m bench.funnel                      # 1 M events, 3 runs each
    python -m bench.funnel --events 10000000 --runs 1
    python -m bench.funnel --events 100000      # smoke (seconds)

The events come from :func:`bench.scale_steps.generate` (the demo company's generator, about
N / 10 customers) and are ingested once into an embedded store; each measured run is a fresh
process (:func:`step`) that opens the store, computes the funnel (the counts per step and
the median time to convert) and reports its seconds and its own peak RSS. The two answers
must agree. The last line of stdout is the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.steps import RESULT_MARKER, peak_rss

HERE = Path(__file__).resolve().parent
STEPS = ["order_placed", "order_shipped", "order_delivered", "review"]
WINDOW_DAYS = 30
TARGET_RATIO = 1.3
TARGET_SECONDS_10M = 2.0


def step(which: str, home: str) -> dict[str, Any]:
    """One measured run in this process: ``ours`` or ``reference``."""
    from cxloop.workspace.workspace import Workspace

    started = time.perf_counter()
    ws = Workspace.open(home)
    try:
        if which == "ours":
            from cxloop.services.journeys.funnels import funnel_from_args, run_funnel

            spec = funnel_from_args(STEPS, window=f"{WINDOW_DAYS}d")
            r = run_funnel(ws, spec)
            counts = [int(n) for n in r.steps.customers]
            median = r.time_to_convert["median"]
        else:
            clock = ws.clock.now().isoformat(sep=" ")
            sql = (
                (HERE / "reference_funnel.sql")
                .read_text()
                .format(
                    log=ws.log.relation_sql(),  # type: ignore[union-attr]
                    clock=f"TIMESTAMP '{clock}'",
                    window=WINDOW_DAYS * 86400,
                )
            )
            row = ws.duck.execute(sql).fetchone()
            assert row is not None
            counts, median = [int(x) for x in row[:4]], round(float(row[4]), 4)
        seconds = time.perf_counter() - started
    finally:
        ws.close()
    return {"seconds": seconds, "peak_rss": peak_rss(), "counts": counts, "median": median}


def _run(which: str, home: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.funnel", "--step", which, "--home", str(home)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=HERE.parent)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_MARKER))
    result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
    return result


def prepare(events: int, work: Path) -> dict[str, Any]:
    from bench.scale_steps import generate
    from cxloop.services.log.ingest import ingest_path
    from cxloop.workspace.workspace import Workspace

    csv = work / "events.csv"
    made = generate({"events": events, "seed": 7, "csv": str(csv)})
    ws = Workspace.open(work / "store")
    try:
        t = time.perf_counter()
        ingest_path(ws, csv)
        made["ingest_seconds"] = time.perf_counter() - t
    finally:
        ws.close()
    csv.unlink()
    return made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--step", choices=["ours", "reference"])
    p.add_argument("--home")
    args = p.parse_args(argv)
    if args.step:
        print(RESULT_MARKER + json.dumps(step(args.step, args.home)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="cxloop-funnel-bench-"))
    try:
        data = prepare(args.events, work)
        ours, ref = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            ours.append(_run("ours", work / "store"))
            ref.append(_run("reference", work / "store"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best_ours = min(ours, key=lambda r: r["seconds"])
    best_ref = min(ref, key=lambda r: r["seconds"])
    assert best_ours["counts"] == best_ref["counts"], (best_ours, best_ref)
    assert abs(best_ours["median"] - best_ref["median"]) < 1e-3, (best_ours, best_ref)
    out = {
        "data": data,
        "runs": args.runs,
        "ours": best_ours,
        "reference": best_ref,
        "ratio": best_ours["seconds"] / best_ref["seconds"],
        "target_ratio": TARGET_RATIO,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
