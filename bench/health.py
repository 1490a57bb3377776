"""Health scoring benchmark: churn risk for every customer of a generated log, against the
engine's own feature query written by hand, in the same run.

::

    python -m bench.health --quick            # ~200 k events, ~20 k customers (a minute)
    python -m bench.health --events 10000000  # ~10 M events, ~1 M customers

Each step runs in a fresh process (``python -m bench.health step NAME JSON``) and reports
its seconds and its RSS high-water mark: ``features`` (cxloop's Ibis features at one
cut-off, every row fetched), ``reference`` (the same features in hand-written DuckDB SQL,
bench/reference_health_features.sql, over the same Parquet segments and built ledger) and
``health`` (the whole scoring: three snapshots, model choice by cross-validation,
calibration, risks, reasons, revenue at risk). The two feature tables must be equal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.steps import RESULT_MARKER, peak_rss, sql_text

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference_health_features.sql"
HORIZON = timedelta(days=45)

Args = dict[str, Any]


def _cutoff(home: str) -> datetime:
    import cxloop

    with cxloop.open(home) as cx:
        return cx.now() - HORIZON


def prepare(args: Args) -> Args:
    """Generate the log (bench.scale_steps' generator), ingest it, build the ledger."""
    import cxloop
    from bench import scale_steps

    made = scale_steps.generate({"events": args["events"], "seed": 7, "csv": args["csv"]})
    started = time.perf_counter()
    with cxloop.open(args["home"]) as cx:
        cx.ingest(args["csv"])
        cx.build_ledger()
    Path(args["csv"]).unlink()
    return {**made, "load_seconds": time.perf_counter() - started}


def features(args: Args) -> Args:
    import cxloop
    from cxloop.analytics import health as hq
    from cxloop.services.promises.ledger import promises_table

    cutoff = _cutoff(args["home"])
    started = time.perf_counter()
    with cxloop.open(args["home"]) as cx:
        ws = cx.workspace
        table = hq.features(ws.events(), promises_table(ws), cutoff, hq.HealthSpec()).to_pyarrow()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": table.num_rows, "sums": _sums(table.to_pandas())}


def reference(args: Args) -> Args:
    import duckdb

    from bench.scale_steps import _log_files

    cutoff = _cutoff(args["home"])
    home = Path(args["home"])
    built = json.loads((home / "ledger" / "manifest.json").read_text())
    query = REFERENCE.read_text().replace("CUTOFF", f"TIMESTAMP '{cutoff.isoformat(sep=' ')}'")
    started = time.perf_counter()
    con = duckdb.connect()
    files = ", ".join(sql_text(f) for f in _log_files(args["home"]))
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    ledger = sql_text(home / "ledger" / built["file"])
    con.execute(f"CREATE VIEW ledger AS SELECT * FROM read_parquet({ledger})")
    table = con.execute(query).fetch_arrow_table()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": table.num_rows, "sums": _sums(table.to_pandas())}


def health(args: Args) -> Args:
    import cxloop

    started = time.perf_counter()
    with cxloop.open(args["home"]) as cx:
        h = cx.health(HORIZON)
    v = h.validation
    return {
        "seconds": time.perf_counter() - started,
        "customers": h.summary["customers"],
        "revenue_at_risk": h.summary["revenue_at_risk"],
        "roc_auc": v["roc_auc"],
        "model": v["model"],
    }


def _sums(df: Any) -> dict[str, float]:
    """Column sums, rounded: the check that two feature tables agree."""
    return {c: round(float(df[c].sum()), 3) for c in df.columns if c != "customer_id"}


STEPS = {"prepare": prepare, "features": features, "reference": reference, "health": health}


def _step(name: str, args: Args, timeout: float) -> Args:
    cmd = [sys.executable, "-m", "bench.health", "step", name, json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result: Args = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise RuntimeError(f"step {name} failed:\n{done.stderr[-3000:]}")


def run(events: int, workdir: Path | None, timeout: float) -> Args:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        args = {"events": events, "csv": f"{tmp}/events.csv", "home": f"{tmp}/store"}
        out: Args = {"prepare": _step("prepare", args, timeout)}
        for name in ("features", "reference", "health"):
            out[name] = _step(name, args, timeout)
    ours, ref = out["features"], out["reference"]
    out["equal"] = ours["rows"] == ref["rows"] and all(
        abs(ours["sums"][k] - ref["sums"][k]) <= 1e-6 * max(1.0, abs(ref["sums"][k]))
        for k in ref["sums"]
    )
    out["ratio"] = ours["seconds"] / ref["seconds"]
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["step"]:
        result = STEPS[argv[1]](json.loads(argv[2]))
        result["peak_rss"] = peak_rss()
        print("\n" + RESULT_MARKER + json.dumps(result), flush=True)
        return 0
    parser = argparse.ArgumentParser(description="health scoring benchmark")
    parser.add_argument("--quick", action="store_true", help="~200 k events")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--timeout", type=float, default=3600)
    ns = parser.parse_args(argv)
    print(json.dumps(run(200_000 if ns.quick else ns.events, ns.workdir, ns.timeout), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def section(res: Args) -> list[str]:
    """The docs/benchmarks.md section of one run."""
    prep, ours, ref, whole = res["prepare"], res["features"], res["reference"], res["health"]
    lines = [
        "## Health scoring (churn risk from the log)",
        "",
        f"{prep['events']:,} generated events of {prep['customers']:,} customers (the scale "
        f"benchmark's generator), ingested and the ledger built in {prep['load_seconds']:.1f} s "
        "(not part of the figures). `python -m bench.health`; each step in a fresh process.",
        "",
        "| Step | Seconds | Peak RSS | Rows |",
        "|---|---:|---:|---:|",
        f"| cxloop health features at one cut-off (Ibis on DuckDB, every row fetched) | "
        f"{ours['seconds']:.2f} | {_mib(ours['peak_rss'])} | {ours['rows']:,} |",
        f"| the same features in hand-written DuckDB SQL (reference) | {ref['seconds']:.2f} | "
        f"{_mib(ref['peak_rss'])} | {ref['rows']:,} |",
        f"| whole scoring: 3 snapshots, model choice (5-fold CV), calibration, risks, reasons, "
        f"revenue at risk | {whole['seconds']:.2f} | {_mib(whole['peak_rss'])} | "
        f"{whole['customers']:,} |",
        "",
        f"Features / reference SQL: **{res['ratio']:.2f}×**; the two tables are "
        f"{'equal (rows and every column sum)' if res['equal'] else '**not equal**'}. "
        f"Time-split ROC-AUC on this log: {whole['roc_auc']:.3f} ({whole['model']}).",
        "",
    ]
    return lines
