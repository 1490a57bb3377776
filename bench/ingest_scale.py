"""Ingest at growing sizes: time and peak memory beside DuckDB's own load of the same CSV.

::

    python -m bench.ingest_scale                         # 1 M, 10 M and 30 M events
    python -m bench.ingest_scale --sizes 100000          # a quick smoke run (~1 min)
    python -m bench.ingest_scale --csv events_10m.csv    # a CSV you have (generic columns)

For each size it generates about N events (one generic CSV, :func:`bench.scale_steps.generate`,
seed 7: the data of :mod:`bench.scale`) unless ``--csv`` names files, then measures in
fresh processes (:mod:`bench.scale_steps`): DuckDB's ``COPY`` of the CSV to a zstd Parquet
file (the reference), ``cxloop ingest FILE --source generic`` into a new store (with
``CXLOOP_INGEST_MEMORY`` as ``--memory`` says), a second ingest of the same file with
``force`` (every row read, checked and found a duplicate), and the reference again; the
ratio is the ingest's time over the mean of the two references, so a machine shared with
other work weighs on both. Peak memory: each step's own peak RSS (``VmHWM``).

The generated CSVs and stores live in ``--work`` (default: a temporary directory) and are
deleted after each size. The last line of stdout is the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scale import Runner, mib, remove

SIZES = (1_000_000, 10_000_000, 30_000_000)
TARGET_RATIO = 1.5  # issue 20: ingest within 1.5x of the engine's own load
TARGET_PEAK = 2 * 1024**3  # issue 20: 10 M events in under 2 GiB


def measure(r: Runner, csv: Path, label: str, once: bool = False) -> dict[str, Any]:
    """The reference, ingest, a forced re-ingest and the reference again, for one CSV
    (``once``: the reference and the ingest only)."""
    out: dict[str, Any] = {"csv": csv.name, "csv_bytes": csv.stat().st_size}
    home = r.work / f"store-{label}"
    raw = r.work / "raw.parquet"
    out["raw1"] = r.step("raw_load", "DuckDB COPY to Parquet", engine="duckdb", csv=csv, out=raw)
    remove(raw)
    out["ingest"] = r.step("ingest", "cxloop ingest", engine="duckdb", home=home, csv=csv)
    if once:
        remove(home)
        return out
    out["reingest"] = r.step(
        "ingest", "cxloop ingest --force", engine="duckdb", home=home, csv=csv, force=True
    )
    out["raw2"] = r.step("raw_load", "DuckDB COPY to Parquet", engine="duckdb", csv=csv, out=raw)
    remove(raw, home)
    return out


def ratio(res: dict[str, Any], step: str = "ingest") -> float | None:
    refs = [res[k]["seconds"] for k in ("raw1", "raw2") if "seconds" in res.get(k, {})]
    if not refs or "seconds" not in res.get(step, {}):
        return None
    return float(res[step]["seconds"]) / (sum(refs) / len(refs))


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    """The Markdown table docs/benchmarks.md shows."""
    lines = [
        "| events | CSV | DuckDB COPY (s) | peak | cxloop ingest (s) | peak | ratio "
        "| re-ingest, all duplicates (s) | peak | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for res in results.values():
        ing, again = res.get("ingest", {}), res.get("reingest", {})
        refs = [res[k] for k in ("raw1", "raw2") if "seconds" in res.get(k, {})]
        ref_s = sum(r["seconds"] for r in refs) / len(refs) if refs else float("nan")
        ref_peak = max((r["peak_rss"] for r in refs), default=0)
        events = ing.get("rows_read", "?")
        lines.append(
            f"| {events:,} | {res['csv_bytes'] / 1e9:.2f} GB | {ref_s:.1f} | {mib(ref_peak)} "
            f"| {_s(ing)} | {_peak(ing)} | {_x(ratio(res))} "
            f"| {_s(again)} | {_peak(again)} | {_x(ratio(res, 'reingest'))} |"
        )
    return lines


def _s(r: dict[str, Any]) -> str:
    return f"{r['seconds']:.1f}" if "seconds" in r else r.get("error", "-")[:60]


def _peak(r: dict[str, Any]) -> str:
    return mib(r["peak_rss"]) if "peak_rss" in r else "-"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES))
    parser.add_argument("--csv", action="append", type=Path, help="measure this CSV instead")
    parser.add_argument("--memory", default="1GiB", help="CXLOOP_INGEST_MEMORY for the ingest")
    parser.add_argument("--work", type=Path, help="where CSVs and stores go (deleted after)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per step")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--once", action="store_true", help="no re-ingest, one reference")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="cxloop-ingest-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    r = Runner(work, args.timeout, lambda msg: print(msg, flush=True))
    r.env["CXLOOP_INGEST_MEMORY"] = args.memory
    results: dict[str, dict[str, Any]] = {}
    jobs: list[tuple[str, Path, bool]] = [(p.name, p, False) for p in args.csv or []]
    if not args.csv:
        jobs = [(f"{int(n)}", work / f"events-{n}.csv", True) for n in args.sizes.split(",")]
    for label, csv, generated in jobs:
        if generated:
            print(f"[{label}] generating", flush=True)
            r.step("generate", "generate", events=int(label), seed=args.seed, csv=csv)
        print(f"[{label}] measuring {csv.name}", flush=True)
        results[label] = measure(r, csv, label, args.once)
        if generated:
            remove(csv)
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_setting": args.memory,
        "results": results,
    }
    print("\n".join(table(results)))
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
