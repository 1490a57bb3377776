"""What an embedded ingest cannot do without: its parts timed alone beside DuckDB's own load.

::

    python -m bench.ingest_floor --csv events_10m.csv     # a CSV with the generic columns
    python -m bench.ingest_floor --size 1000000           # generated (seed 7, bench.scale)

Each step runs in a fresh process (:mod:`bench.scale_steps`) on the same CSV, with
``CXLOOP_INGEST_MEMORY`` as ``--memory`` says:

1. DuckDB's ``COPY`` of the CSV to a zstd Parquet file (the reference of issue 20: "the
   engine's own load of the same file");
2. ``read``: the CSV into a DuckDB table, every column text, nothing checked or written;
3. ``stage``: cxloop's own staging through the generic mapping (read, map, check and hash
   every row, the quarantine's problems worked out): what every ingest does first;
4. ``stage_write``: that, then the staged rows written to zstd Parquet in file order (no
   duplicate check, no sort, no customer-sorted copy, no commit): the least an ingest that
   checks its rows can do;
5. ``stage_sorted``: the same written in the log's segment order;
6. ``cxloop ingest`` into a new store (everything: ids repeated in the file, the sorted
   segment, the customer-sorted copy for point reads, the journal);
7. DuckDB's ``COPY`` again.

The ratio of each step is over the mean of the two references. Wall and CPU seconds
(user + system of the step's process, DuckDB's threads included) and each step's peak
RSS. The last line of stdout is the results as JSON.
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

STEPS = (
    ("raw1", "DuckDB COPY to Parquet (reference)"),
    ("read", "read: the CSV into a table, as text"),
    ("stage", "stage: read, map, check, hash"),
    ("stage_write", "stage + write Parquet, file order"),
    ("stage_sorted", "stage + write Parquet, segment order"),
    ("ingest", "cxloop ingest (all of it)"),
    ("raw2", "DuckDB COPY to Parquet (again)"),
)


def measure(r: Runner, csv: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"csv": csv.name, "csv_bytes": csv.stat().st_size}
    parquet, home = r.work / "floor.parquet", r.work / "floor-store"
    for key, label in STEPS:
        if key.startswith("raw"):
            out[key] = r.step("raw_load", label, engine="duckdb", csv=csv, out=parquet)
        elif key == "ingest":
            out[key] = r.step("ingest", label, engine="duckdb", home=home, csv=csv)
        else:
            out[key] = r.step("ingest_floor", label, part=key, home=home, csv=csv, out=parquet)
        remove(parquet, home)
    return out


def table(res: dict[str, Any]) -> list[str]:
    refs = [res[k] for k in ("raw1", "raw2") if "seconds" in res.get(k, {})]
    ref_s = sum(x["seconds"] for x in refs) / len(refs) if refs else float("nan")
    ref_cpu = sum(x.get("cpu_seconds", 0.0) for x in refs) / len(refs) if refs else float("nan")
    lines = [
        "| step | wall s | CPU s | peak | wall / reference | CPU / reference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in STEPS:
        step = res.get(key, {})
        if "seconds" not in step:
            lines.append(f"| {label} | {step.get('error', '-')[:80]} | | | | |")
            continue
        cpu = step.get("cpu_seconds")
        lines.append(
            f"| {label} | {step['seconds']:.2f} | {'-' if cpu is None else f'{cpu:.2f}'} "
            f"| {mib(step['peak_rss'])} | {step['seconds'] / ref_s:.2f}x "
            f"| {'-' if cpu is None else f'{cpu / ref_cpu:.2f}x'} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="a CSV with the generic columns")
    parser.add_argument("--size", type=int, default=1_000_000, help="events to generate")
    parser.add_argument("--memory", default="1GiB", help="CXLOOP_INGEST_MEMORY")
    parser.add_argument("--work", type=Path, help="where the stores go (deleted after)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per step")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="cxloop-ingest-floor-"))
    work.mkdir(parents=True, exist_ok=True)
    r = Runner(work, args.timeout, lambda msg: print(msg, flush=True))
    r.env["CXLOOP_INGEST_MEMORY"] = args.memory
    csv = args.csv.resolve() if args.csv else work / f"events-{args.size}.csv"
    if args.csv is None:
        r.step("generate", "generate", events=args.size, seed=args.seed, csv=csv)
    res = measure(r, csv)
    if args.csv is None:
        remove(csv)
    print("\n".join(table(res)))
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_setting": args.memory,
        "results": res,
    }
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
