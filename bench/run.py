"""``make bench``: run the benchmarks and write docs/benchmarks.md.

::

    python -m bench.run            # full size (~1 M events, 1 M orders, Olist), 5 runs each
    python -m bench.run --quick    # smoke run (~100 k events, 20 k orders, Olist), 1 run;
                                   # prints the page instead of overwriting the doc

Every measured step runs in a fresh process (:mod:`bench.steps`); stores and files
live in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.health import run as health_run
from bench.health import section as health_section
from bench.http import section as http_section
from bench.scale import section as scale_section
from bench.steps import RESULT_MARKER
from bench.voice import section as voice_section

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
OLIST = REPO.parent / "shared" / "data" / "olist"
INGEST_TARGET = 1.5  # cxloop ingest / DuckDB's own load of the file
LEDGER_TARGET = 1.3  # cx.build_ledger() / the hand-written SQL


@dataclass(frozen=True)
class Size:
    events: int  # benchmark 1: generated events to ingest
    orders: int  # benchmark 2: orders to build the ledger for
    runs: int  # runs of each measured step


FULL = Size(events=1_000_000, orders=1_000_000, runs=5)
QUICK = Size(events=100_000, orders=20_000, runs=1)


class StepFailed(RuntimeError):
    pass


@dataclass
class Runs:
    """The results of one measured step, run one or more times."""

    label: str
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [float(r["seconds"]) for r in self.results]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_rss(self) -> int:
        return max(int(r["peak_rss"]) for r in self.results)

    @property
    def last(self) -> dict[str, Any]:
        return self.results[-1]


class Bench:
    def __init__(self, work: Path, timeout: float, log: Callable[[str], None]) -> None:
        self.work = work
        self.timeout = timeout
        self.log = log
        self.env = dict(os.environ)
        # the steps run elsewhere: make the import path absolute
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *(str(Path(p).resolve()) for p in paths)]
        )

    def step(self, name: str, runs: Runs | None = None, **args: Any) -> dict[str, Any]:
        """Run one step in a fresh process (cwd: the work directory, where DuckDB may spill)."""
        cmd = [sys.executable, "-m", "bench.steps", name, json.dumps(args, default=str)]
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.work,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"{name} did not finish within {self.timeout:.0f} s") from exc
        at = proc.stdout.rfind(RESULT_MARKER)  # DuckDB may have drawn progress bars before it
        if proc.returncode != 0 or at < 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise StepFailed(f"{name} failed (exit {proc.returncode}):\n{tail}")
        line = proc.stdout[at + len(RESULT_MARKER) :].splitlines()[0]
        result: dict[str, Any] = json.loads(line)
        result["process_seconds"] = time.perf_counter() - started
        self.log(f"  {name:<17} {result['seconds']:8.2f} s  peak {mib(result['peak_rss'])}")
        if runs is not None:
            runs.results.append(result)
        return result


# ------------------------------------------------------------------ the benchmarks
def bench_ingest(b: Bench, size: Size, seed: int) -> dict[str, Any]:
    csv = b.work / "events.csv"
    b.log(f"[1] generating ~{size.events:,} events")
    gen = b.step("generate", target_events=size.events, seed=seed, csv=csv)
    ingest, reingest = Runs("cxloop ingest (generic mapping)"), Runs("cxloop re-ingest (no-op)")
    copy = Runs("DuckDB `COPY (SELECT * FROM read_csv(…)) TO '….parquet'` (zstd)")
    table = Runs("DuckDB `CREATE TABLE t AS SELECT * FROM read_csv(…)` (DuckDB file)")
    checks: list[str] = []
    for run in range(size.runs):
        b.log(f"[1] run {run + 1} of {size.runs}")
        b.step("duckdb_copy", copy, csv=csv, out=b.work / "raw.parquet")
        remove(b.work / "raw.parquet")
        b.step("duckdb_table", table, csv=csv, db=b.work / "raw.duckdb")
        remove(b.work / "raw.duckdb", b.work / "raw.duckdb.wal")
        home = b.work / "store-ingest"
        first = b.step("ingest", ingest, home=home, path=csv, source="generic")
        again = b.step("ingest", reingest, home=home, path=csv, source="generic")
        remove(home)
        if first["events_new"] != gen["events"] or first["rows_quarantined"]:
            checks.append(
                f"run {run + 1}: ingest added {first['events_new']:,} of "
                f"{gen['events']:,} events, quarantined {first['rows_quarantined']:,}"
            )
        if again["events_new"] or again["events_duplicate"] != gen["events"]:
            checks.append(
                f"run {run + 1}: re-ingest added {again['events_new']:,} events "
                f"and found {again['events_duplicate']:,} duplicates"
            )
    remove(csv)
    return {
        "gen": gen,
        "ingest": ingest,
        "reingest": reingest,
        "copy": copy,
        "table": table,
        "checks": checks,
    }


def bench_ledger(b: Bench, size: Size, seed: int) -> dict[str, Any]:
    csv, home = b.work / "orders.csv", b.work / "store-ledger"
    b.log(f"[2] generating {size.orders:,} orders")
    gen = b.step("generate", n_orders=size.orders, seed=seed, csv=csv)
    ingest, copy = Runs("cxloop ingest (generic mapping)"), Runs("DuckDB `COPY` to Parquet")
    for run in range(size.runs):  # each run into a new store; the last one stays for the ledger
        b.log(f"[2] ingest run {run + 1} of {size.runs}")
        b.step("duckdb_copy", copy, csv=csv, out=b.work / "raw.parquet")
        remove(b.work / "raw.parquet", home)
        b.step("ingest", ingest, home=home, path=csv, source="generic")
    remove(csv)
    ledger = Runs("`cx.build_ledger()` (Ibis on DuckDB)")
    reference = Runs("hand-written DuckDB SQL (`bench/reference_ledger.sql`)")
    out = b.work / "reference.parquet"
    for run in range(size.runs):
        b.log(f"[2] ledger run {run + 1} of {size.runs}")
        b.step("ledger", ledger, home=home)
        b.step("reference_ledger", reference, home=home, out=out)
    compare = b.step("compare_ledgers", ledger=ledger.last["file"], reference=out)
    remove(home, out)
    return {
        "gen": gen,
        "ingest": ingest,
        "copy": copy,
        "ledger": ledger,
        "reference": reference,
        "compare": compare,
    }


def bench_olist(b: Bench, size: Size, data: Path) -> dict[str, Any]:
    ingest, ledger = Runs("cxloop ingest (olist mapping)"), Runs("`cx.build_ledger()`")
    for run in range(size.runs):
        b.log(f"[3] run {run + 1} of {size.runs}")
        home = b.work / "store-olist"
        b.step("ingest", ingest, home=home, path=data, source="olist")
        b.step("ledger", ledger, home=home)
        remove(home)
    files = sorted(data.glob("*.csv"))
    return {
        "ingest": ingest,
        "ledger": ledger,
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
    }


def run_module(module: str, args: list[str], what: str, timeout: float) -> dict[str, Any]:
    """Benchmarks that run in their own process (``python -m module`` prints JSON last)."""
    cmd = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(
            cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{what} benchmarks ran past {timeout:.0f}s") from None
    if done.returncode != 0:
        raise StepFailed(f"{what} benchmarks failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_voice(data: Path, quick: bool, timeout: float) -> dict[str, Any]:
    quick_flag = ["--quick"] if quick else []
    return run_module("bench.voice", ["--data", str(data), *quick_flag], "voice", timeout)


def bench_http(quick: bool, timeout: float) -> dict[str, Any]:
    return run_module("bench.http", ["--quick"] if quick else [], "HTTP", timeout)


def bench_scale(quick: bool, results: Path | None, timeout: float) -> dict[str, Any]:
    """The scale benchmark (bench/scale.py: 1 M and 10 M events on DuckDB, PostgreSQL and
    Spark), or the results a run of it saved (``--scale-results``)."""
    if results is not None:
        saved: dict[str, Any] = json.loads(results.read_text())
        return saved
    args = ["--quick"] if quick else []
    return run_module("bench.scale", args, "scale", max(timeout, 3 * 3600.0))


def bench_health(quick: bool, workdir: Path | None, timeout: float) -> dict[str, Any]:
    """Churn risk for ~1 M customers from ~10 M events (bench/health.py); its features
    against the same query in hand-written DuckDB SQL."""
    try:
        return health_run(200_000 if quick else 10_000_000, workdir, timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        raise StepFailed(str(exc)) from exc


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


# ------------------------------------------------------------------ the machine
def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    out = {"Python": platform.python_version()}
    for name in ("cxloop", "duckdb", "ibis-framework", "pyarrow"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "bench", "pyproject.toml"],
            cwd=REPO,
            text=True,
            capture_output=True,
            check=True,
        ).stdout
        changed = " (with uncommitted changes in src/ or bench/)" if dirty.strip() else ""
        out["commit"] = commit + changed
    except (OSError, subprocess.CalledProcessError):
        out["commit"] = "unknown"
    return out


# ------------------------------------------------------------------ the page
def mib(n: float) -> str:
    return f"{n / 1024**2:,.0f} MiB"


TIMING = ["Seconds (fastest)", "median", "slowest"]


def timing(runs: Runs) -> list[str]:
    """Fastest, median and slowest run, for the ``TIMING`` columns."""
    if len(runs.seconds) == 1:
        return [f"{runs.best:,.2f}", "–", "–"]
    return [f"{s:,.2f}" for s in (runs.best, runs.median, max(runs.seconds))]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1000:,.0f} k/s" if seconds > 0 else "–"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has an ``l`` or ``r`` per column (default: the first
    column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = "|".join("---" if a == "l" else "---:" for a in align)
    out = ["| " + " | ".join(header) + " |", f"|{rule}|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


RATIO = ["Ratio", "fastest runs", "medians", "Target", "Met"]


def ratio_row(label: str, ours: Runs, reference: Runs, target: float | None = None) -> list[str]:
    """cxloop over the reference, for the fastest runs and for the medians."""
    best, med = ours.best / reference.best, ours.median / reference.median
    if target is None:
        return [label, f"{best:.2f}×", f"{med:.2f}×", "–", "–"]
    met = {
        (True, True): "yes",
        (False, False): "**no**",
        (True, False): "fastest runs only",
        (False, True): "medians only",
    }[(best <= target, med <= target)]
    return [label, f"{best:.2f}×", f"{med:.2f}×", f"≤ {target}×", met]


INTRO = """\
# Benchmarks

This page is written by `make bench` (`python -m bench.run`, code in [bench/](../bench/));
every run replaces it (about 15 minutes on the machine below, 7 of them the voice section,
plus the scale section's own run, about 40 minutes;
`--only ingest --only ledger …` re-measures only those sections and keeps the others, each
marked with when it was measured). `python -m bench.run --quick` is a smoke run (100 k
events, 20 k orders, one run each, smaller voice samples) that prints the page instead (add
`--out FILE` to keep it). Each measured step runs in a fresh Python process,
against a store in a temporary directory that is removed afterwards:

- **seconds**: wall time of the operation inside that process: opening the store (or the
  DuckDB connection) and the call, not the interpreter's start or the imports. Each step
  runs several times, in turn with its reference; as the machine may be shared, the
  fastest run is the figure (the one least disturbed by other load), with the median and
  the slowest beside it.
- **peak RSS**: the process's resident-memory high-water mark (`VmHWM`) at the end of the
  step, the highest of the runs. It includes the interpreter and the imported libraries
  (the floor is given under the machine).
- **ratio**: cxloop's time over the reference's, measured in the same run on the same
  machine, for the fastest runs and for the medians (*Met* says which of the two meet the
  target): DuckDB's own load of the same CSV for ingest, the hand-written DuckDB SQL of
  [bench/reference_ledger.sql](../bench/reference_ledger.sql) for the ledger.
"""


def render(ctx: dict[str, Any]) -> str:
    size: Size = ctx["size"]
    lines = [INTRO]
    lines += ["## Machine and run", ""]
    info = {
        "Date": ctx["date"],
        **ctx["machine"],
        **ctx["versions"],
        "Runs per figure": str(size.runs) + (" (`--quick`)" if ctx["quick"] else ""),
        "Load average (1 min) at start / end": f"{ctx['load'][0]:.2f} / {ctx['load'][1]:.2f}",
        "Benchmark wall time": f"{ctx['total_seconds'] / 60:.1f} min",
    }
    if "floor" in ctx:
        info["Floor: Python + cxloop imported, store opened"] = mib(ctx["floor"]["peak_rss"])
    lines += table(["", ""], [[k, v] for k, v in info.items()], align="ll")
    lines += section_ingest(ctx.get("ingest"), size, ctx["seed"])
    lines += section_ledger(ctx.get("ledger"), size, ctx["seed"])
    lines += section_olist(ctx.get("olist"))
    lines += voice_section(ctx["voice"]) if "voice" in ctx else []
    lines += http_section(ctx["http"]) if "http" in ctx else []
    if isinstance(ctx.get("scale"), str):
        lines += ["## Scale", "", f"**Did not complete:** {ctx['scale']}", ""]
    elif "scale" in ctx:
        lines += scale_section(ctx["scale"])
    lines += health_section(ctx["health"]) if isinstance(ctx.get("health"), dict) else []
    return "\n".join(lines).rstrip() + "\n"


def failed(entry: Any) -> list[str] | None:
    if entry is None:
        return ["Not run.", ""]
    if isinstance(entry, str):
        return [f"**Did not complete:** {entry}", ""]
    return None


def section_ingest(res: Any, size: Size, seed: int) -> list[str]:
    lines = [f"## 1. Ingest ~{size.events:,} generated events from CSV", ""]
    if (fail := failed(res)) is not None:
        return lines + fail
    gen = res["gen"]
    n = int(gen["events"])
    lines += [
        f"`cxloop.demo.generate_events(n_orders={gen['n_orders']:,}, seed={seed})`"
        f" gives **{n:,} events**, written as one CSV of {mib(gen['csv_bytes'])} "
        "(`cxloop.demo.write_csv`). cxloop loads it with "
        '`cxloop.open(home).ingest(csv, source="generic")` into a new store; the '
        "re-ingest loads the same file again into that store: its sha256 shows it was "
        "loaded unchanged, so it is not parsed again (`ingest(..., force=True)` would "
        "re-read it and find every event a duplicate). The store's log segments are zstd "
        "Parquet written by DuckDB, "
        "so DuckDB's `COPY` of the CSV to a zstd Parquet file is the engine's own load.",
        "",
    ]
    rows = [
        [r.label, *timing(r), rate(n, r.best), mib(r.peak_rss)]
        for r in (res["ingest"], res["reingest"], res["copy"], res["table"])
    ]
    lines += table(["Step", *TIMING, "Events/s", "Peak RSS"], rows)
    lines += table(
        RATIO,
        [
            ratio_row(
                "ingest / DuckDB `COPY` to Parquet", res["ingest"], res["copy"], INGEST_TARGET
            ),
            ratio_row(
                "ingest / DuckDB `CREATE TABLE` (for reference)", res["ingest"], res["table"]
            ),
            ratio_row("re-ingest (no-op) / ingest", res["reingest"], res["ingest"]),
        ],
    )
    for check in res["checks"]:
        lines += [f"> **Warning:** {check}", ""]
    return lines


def section_ledger(res: Any, size: Size, seed: int) -> list[str]:
    lines = [f"## 2. Promise ledger for {size.orders:,} orders", ""]
    if (fail := failed(res)) is not None:
        return lines + fail
    gen, cmp = res["gen"], res["compare"]
    n = int(gen["events"])
    promises = int(res["ledger"].last["promises"])
    lines += [
        f"`generate_events(n_orders={size.orders:,}, seed={seed})` gives "
        f"**{n:,} events** (CSV of {mib(gen['csv_bytes'])}), ingested once into a new "
        f"store; `cx.build_ledger()` turns them into **{promises:,} promises**. The "
        "reference computes the same ledger (all its columns) with hand-written SQL on "
        "the same engine, from the same log segments, and also writes it to Parquet.",
        "",
    ]
    ingest, copy = res["ingest"], res["copy"]
    rows = [
        [f"{ingest.label}, {n:,} events", *timing(ingest), mib(ingest.peak_rss)],
        [copy.label + " of the same CSV", *timing(copy), mib(copy.peak_rss)],
    ]
    rows += [[r.label, *timing(r), mib(r.peak_rss)] for r in (res["ledger"], res["reference"])]
    lines += table(["Step", *TIMING, "Peak RSS"], rows)
    lines += table(
        RATIO,
        [
            ratio_row(
                "`build_ledger()` / hand-written SQL",
                res["ledger"],
                res["reference"],
                LEDGER_TARGET,
            ),
            ratio_row("ingest / DuckDB `COPY` (for reference)", ingest, copy, INGEST_TARGET),
        ],
    )
    lines += ledger_check(cmp)
    return lines


def ledger_check(cmp: dict[str, Any]) -> list[str]:
    counts: dict[str, dict[str, int]] = {}
    for side in ("ledger", "reference"):
        for _rule, state, n in cmp["states"][side]:
            counts.setdefault(state, {"ledger": 0, "reference": 0})[side] += int(n)
    order = ["open", "at_risk", "kept", "exceeded", "broken", "cancelled"]
    states = [s for s in order if s in counts] + sorted(set(counts) - set(order))
    same_counts = cmp["states"]["ledger"] == cmp["states"]["reference"]
    lines = [
        "Check: promises per state, cxloop's ledger against the reference "
        "(per rule and state they are " + ("**equal**" if same_counts else "**not equal**") + "):",
        "",
    ]
    rows = [[s, f"{counts[s]['ledger']:,}", f"{counts[s]['reference']:,}"] for s in states]
    lines += table(["State", "cxloop", "reference SQL"], rows)
    diff = (
        "identical in every column"
        if cmp["rows_diff"] == 0 and cmp["same_columns"]
        else f"{cmp['rows_diff']:,} rows differ in some column"
        + ("" if cmp["same_columns"] else " (and the column names or types differ)")
    )
    lines += [
        f"Promise by promise: {cmp['state_diff']:,} differ in state, "
        f"{cmp['missing']:,} are in one ledger only; the two Parquet files are {diff}.",
        "",
    ]
    if not same_counts or cmp["state_diff"] or cmp["missing"]:
        lines += [
            "> **Warning:** the ledger's states do not match the reference SQL; one of "
            "the two is wrong, and the ratio above compares different work.",
            "",
        ]
    return lines


def section_olist(res: Any) -> list[str]:
    lines = ["## 3. Olist (public e-commerce data), ingest and ledger", ""]
    if (fail := failed(res)) is not None:
        return lines + fail
    ing, led = res["ingest"], res["ledger"]
    last = ing.last
    lines += [
        f"The {res['files']} CSV files of `../shared/data/olist` ({mib(res['bytes'])}; "
        "what they hold: its SOURCE.md), "
        'loaded with `ingest(dir, source="olist")` into a new store, then '
        "`cx.build_ledger()`.",
        "",
    ]
    out = (
        f"{last['rows_read']:,} rows read, {last['events_new']:,} events, "
        f"{last['rows_quarantined']:,} rows quarantined"
    )
    rows = [
        [ing.label, *timing(ing), mib(ing.peak_rss), out],
        [led.label, *timing(led), mib(led.peak_rss), f"{int(led.last['promises']):,} promises"],
    ]
    lines += table(["Step", *TIMING, "Peak RSS", "Output"], rows, "lrrrrl")
    return lines


# ------------------------------------------------------------------ main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: ~100 k events, 20 k orders, one run of each step",
    )
    parser.add_argument(
        "--runs", type=int, help="runs of each measured step (default 5; 1 with --quick)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the page (default docs/benchmarks.md; with --quick: print it)",
    )
    parser.add_argument("--olist", type=Path, default=OLIST, help="the Olist CSV directory")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument(
        "--only",
        choices=["ingest", "ledger", "olist", "voice", "http", "scale", "health"],
        action="append",
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="where the temporary directory goes")
    parser.add_argument(
        "--scale-results",
        type=Path,
        help="render the scale section from this saved run (`python -m bench.scale --save`)",
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=1800.0,
        help="give up on a step after this many seconds (default 1800)",
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    if args.runs:
        size = Size(size.events, size.orders, args.runs)
    out: Path | None = args.out if args.out or args.quick else DOC
    only = set(args.only or ["ingest", "ledger", "olist", "voice", "http", "scale", "health"])

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    ctx: dict[str, Any] = {
        "size": size,
        "quick": args.quick,
        "seed": args.seed,
        "machine": machine(),
        "versions": versions(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": [os.getloadavg()[0]],
    }
    with tempfile.TemporaryDirectory(prefix="cxloop-bench-", dir=args.workdir) as tmp:
        b = Bench(Path(tmp), args.step_timeout, log)
        ctx["floor"] = b.step("baseline", home=b.work / "store-floor")
        remove(b.work / "store-floor")
        plan: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("ingest", lambda: bench_ingest(b, size, args.seed)),
            ("ledger", lambda: bench_ledger(b, size, args.seed)),
            ("olist", lambda: bench_olist(b, size, args.olist)),
            ("voice", lambda: bench_voice(args.olist.parent, args.quick, args.step_timeout)),
            ("http", lambda: bench_http(args.quick, args.step_timeout)),
            ("scale", lambda: bench_scale(args.quick, args.scale_results, args.step_timeout)),
            ("health", lambda: bench_health(args.quick, args.workdir, args.step_timeout)),
        ]
        for name, fn in plan:
            if name not in only:
                continue
            if name in ("olist", "voice") and not args.olist.is_dir():
                ctx[name] = f"{args.olist} is absent"
                continue
            try:
                ctx[name] = fn()
            except StepFailed as exc:
                log(f"[{name}] {exc}")
                ctx[name] = str(exc).splitlines()[0]
            for leftover in Path(tmp).iterdir():
                remove(leftover)
    ctx["load"].append(os.getloadavg()[0])
    ctx["total_seconds"] = time.perf_counter() - started
    page = render(ctx)
    if out is None:
        print(page)
        return 0
    if args.only and out.exists():  # keep the page's other sections as they were measured
        stamp = f"{ctx['date']}, commit {ctx['versions'].get('commit', 'unknown')}"
        page = splice(out.read_text(), page, stamp)
    out.write_text(page)
    log(f"wrote {out}")
    return 0


def _sections(page: str) -> dict[str, str]:
    """The page's ``## `` sections by title (the text before the first one under "")."""
    parts: dict[str, str] = {}
    title = ""
    for line in page.splitlines(keepends=True):
        if line.startswith("## "):
            title = line[3:].strip()
        parts[title] = parts.get(title, "") + line
    return parts


def splice(old: str, new: str, stamp: str) -> str:
    """``old`` with the sections ``new`` measured replaced (each marked with when it was
    measured); the machine table and the sections not run stay as they were."""
    fresh = {
        t: text
        for t, text in _sections(new).items()
        if t and t != "Machine and run" and "\nNot run.\n" not in text
    }
    merged = []
    for title, text in _sections(old).items():
        if title in fresh:
            head, _, body = fresh.pop(title).partition("\n")
            text = f"{head}\n\n_Re-measured on its own: {stamp}._\n{body}"
        merged.append(text)
    merged += fresh.values()  # sections the old page did not have
    return "".join(merged)


if __name__ == "__main__":
    sys.exit(main())
