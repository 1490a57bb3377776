"""The effort benchmark: effort per issue over generated events against hand-written SQL.

::

    python -m bench.effort                       # 1 M events, 3 runs each
    python -m bench.effort --events 100000 --runs 1    # smoke (about a minute)
    python -m bench.effort --events 10000000 --runs 1

It generates about N events with the scale benchmark's generator (the demo company's
orders, deliveries, support contacts with replies, transfers, holds and callbacks;
:func:`bench.scale_steps.generate`), ingests them into an embedded store, then measures, each
run in a fresh process so that its peak RSS is its own: ``cxloop``'s per-issue rows
(:func:`cxloop.services.journeys.effort.issues`: Ibis on DuckDB over the Parquet log, then the
flags and ids in pandas) and the hand-written DuckDB SQL of ``bench/reference_effort.sql``
over the same segments, into a DataFrame. A last step checks that both give the same
issues and figures. The last line of stdout is the results as JSON; the Markdown for
docs/benchmarks.md is printed before it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.steps import RESULT_MARKER, peak_rss, sql_text

REFERENCE_SQL = Path(__file__).with_name("reference_effort.sql")
TARGET = 1.3  # cxloop's effort rows / the hand-written SQL
FIGURES = [
    "contacts",
    "channels",
    "replies",
    "transfers",
    "hold_seconds",
    "queue_seconds",
    "repeat_contacts",
    "reopens",
    "first_reply_hours",
    "elapsed_hours",
    "wait_first_reply_hours",
    "wait_between_replies_hours",
    "customer_turn_hours",
]


# ------------------------------------------------------------------ steps (fresh processes)
def step_effort(args: dict[str, Any]) -> dict[str, Any]:
    import cxloop
    from cxloop.services.journeys import effort

    started = time.perf_counter()
    with cxloop.open(args["home"]) as cx:
        rows = effort.issues(cx.workspace)
    seconds = time.perf_counter() - started
    rows.to_parquet(args["out"])
    return {"seconds": seconds, "issues": len(rows)}


def step_reference(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    query = REFERENCE_SQL.read_text()
    started = time.perf_counter()
    log = Path(args["home"]) / "events"
    manifest = json.loads((log / "manifest.json").read_text())
    files = ", ".join(sql_text(log / s["file"]) for s in manifest["segments"])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {sql_text(Path(args['home']) / 'tmp')}")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    rows = con.execute(query).df()
    seconds = time.perf_counter() - started
    con.close()
    rows.to_parquet(args["out"])
    return {"seconds": seconds, "issues": len(rows)}


def step_compare(args: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    ours = pd.read_parquet(args["ours"])
    ref = pd.read_parquet(args["reference"])
    # our rows carry their issue key only inside the engine: match on customer, subject and
    # start (one issue per customer and order in the generated data)
    keys = ["customer_id", "subject_kind", "subject", "started_at"]
    ref["started_at"] = pd.to_datetime(ref.started_at).astype("datetime64[us]")
    ours["started_at"] = pd.to_datetime(ours.started_at).astype("datetime64[us]")
    j = ours.merge(ref, on=keys, how="outer", suffixes=("", "_ref"), indicator=True)
    unmatched = int((j._merge != "both").sum())
    both = j[j._merge == "both"]
    differ = {}
    for col in FIGURES:
        a, b = both[col].astype(float), both[f"{col}_ref"].astype(float)
        bad = ~(((a - b).abs() <= 1e-6) | (a.isna() & b.isna()))
        differ[col] = int(bad.sum())
    return {
        "seconds": 0.0,
        "issues": len(ours),
        "reference_issues": len(ref),
        "unmatched": unmatched,
        "differing": {k: v for k, v in differ.items() if v},
        "same": unmatched == 0 and not any(differ.values()),
    }


STEPS = {"effort": step_effort, "reference": step_reference, "compare": step_compare}


def step_main(name: str, raw: str) -> int:
    result = STEPS[name](json.loads(raw))
    result["peak_rss"] = peak_rss()
    print("\n" + RESULT_MARKER + json.dumps(result), flush=True)
    return 0


# ------------------------------------------------------------------ driver
def run(module: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=env
    )
    marks = [ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if done.returncode != 0 or not marks:
        raise RuntimeError(f"{module} {args[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(marks[-1][len(RESULT_MARKER) :])
    return result


def measure(
    events: int, runs: int, work: Path, seed: int, store: Path | None = None
) -> dict[str, Any]:
    csv, home = work / "events.csv", store or work / "store"
    if store is not None:
        manifest = json.loads((home / "events" / "manifest.json").read_text())
        gen = {"events": sum(int(seg["rows"]) for seg in manifest["segments"])}
        return {"generate": gen, "ingest": {}, **_runs_on(home, runs, work)}
    log(f"generating about {events:,} events")
    gen = run(
        "bench.scale_steps",
        "generate",
        json.dumps({"events": events, "seed": seed, "csv": str(csv)}),
    )
    log(f"ingesting {gen['events']:,} events")
    ing = run(
        "bench.steps",
        "ingest",
        json.dumps({"home": str(home), "path": str(csv), "source": "generic"}),
    )
    csv.unlink()
    return {"generate": gen, "ingest": ing, **_runs_on(home, runs, work)}


def _runs_on(home: Path, runs: int, work: Path) -> dict[str, Any]:
    ours, ref = [], []
    for i in range(runs):
        log(f"run {i + 1} of {runs}")
        ours.append(
            run(
                "bench.effort",
                "step",
                "effort",
                json.dumps({"home": str(home), "out": str(work / "ours.parquet")}),
            )
        )
        ref.append(
            run(
                "bench.effort",
                "step",
                "reference",
                json.dumps({"home": str(home), "out": str(work / "ref.parquet")}),
            )
        )
    cmp = run(
        "bench.effort",
        "step",
        "compare",
        json.dumps({"ours": str(work / "ours.parquet"), "reference": str(work / "ref.parquet")}),
    )
    return {"ours": ours, "reference": ref, "compare": cmp}


def log(msg: str) -> None:
    print(f"[effort bench {datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def _runs(results: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in results)


def markdown(res: dict[str, Any], events: int) -> str:
    best_o = min(r["seconds"] for r in res["ours"])
    best_r = min(r["seconds"] for r in res["reference"])
    mem_o = max(r["peak_rss"] for r in res["ours"]) / 2**20
    mem_r = max(r["peak_rss"] for r in res["reference"]) / 2**20
    ratio = best_o / best_r
    verdict = "within" if ratio <= TARGET else "NOT within"
    cmp = res["compare"]
    same = "same issues and figures" if cmp["same"] else f"DIFFER: {cmp}"
    return "\n".join(
        [
            f"### Effort per issue, {res['generate']['events']:,} events "
            f"({res['ours'][0]['issues']:,} issues)",
            "",
            "| step | best of runs (s) | runs (s) | peak RSS |",
            "| --- | ---: | --- | ---: |",
            f"| `effort.issues` (Ibis on DuckDB + pandas) | {best_o:.2f} | "
            f"{_runs(res['ours'])} | {mem_o:,.0f} MiB |",
            f"| hand-written DuckDB SQL (`bench/reference_effort.sql`) | {best_r:.2f} | "
            f"{_runs(res['reference'])} | {mem_r:,.0f} MiB |",
            "",
            f"Ratio {ratio:.2f}x ({verdict} the {TARGET}x target); {same} "
            f"({cmp['issues']:,} issues). Requested {events:,} events; machine "
            f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["step"]:
        return step_main(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="where the temporary directory goes")
    parser.add_argument("--store", type=Path, help="measure on this store (no generating)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cxloop-effort-", dir=args.workdir))
    try:
        res = measure(args.events, args.runs, work, args.seed, args.store)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(markdown(res, args.events))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
