"""The scale benchmark: 1 M and 10 M generated events on the three engines.

::

    python -m bench.scale                  # 1 M and 10 M events, every engine (~40 min)
    python -m bench.scale --quick          # 100 k and 1 M events (smoke)
    python -m bench.scale --engine duckdb --size 1000000

For each size it generates about N events from about N / 10 customers (one generic CSV,
:func:`bench.scale_steps.generate`), then, per engine, measures in fresh processes
(:mod:`bench.scale_steps`): the engine's own load of the CSV, cxloop's ingest, the ledger
build and the brief's engine-side queries (:mod:`cxloop.services.brief.inputs`), and the
hand-written SQL of the same work on the same engine. Engines: the embedded default
(DuckDB over the Parquet log), PostgreSQL (a server this benchmark starts, and stops, in
its temporary directory) and Spark in local mode (``local[2]``, over the embedded store's
Parquet log: its ingest is the embedded one).

Memory: each step's own peak RSS (``VmHWM``), and, sampled every 0.5 s, the RSS of the
step's process tree (for Spark, the driver and its JVM) and the proportional set size
(PSS: shared buffers counted once) of every PostgreSQL server process.

The last line of stdout is the results as JSON (``bench.run`` renders them as its
``scale`` section); ``--save FILE`` also writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.steps import RESULT_MARKER

REPO = Path(__file__).resolve().parent.parent
FULL = (1_000_000, 10_000_000)
QUICK = (100_000, 1_000_000)
ENGINES = ("duckdb", "postgres", "spark")
BRIEF_SECONDS = 10.0  # target: brief inputs at 10 M events on the embedded default
BRIEF_RATIO = 1.3  # target: brief inputs / hand-written SQL on the embedded default
SPARK_DRIVER_MEMORY = "8g"
PG_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}

Log = Callable[[str], None]


# ------------------------------------------------------------------ /proc
def _proc_table() -> dict[int, int]:
    """pid -> parent pid, for every process."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        out[int(entry.name)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    return out


def _tree(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _field(path: Path, name: str) -> int:
    """A ``Name:  123 kB`` field of a /proc file, in bytes (0 when gone)."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class Sampler(threading.Thread):
    """Every 0.5 s: the RSS of a process tree, and the PSS of the PostgreSQL server's."""

    def __init__(self, pid: int, server: int | None) -> None:
        super().__init__(daemon=True)
        self.pid, self.server = pid, server
        self.tree_peak = self.server_peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            parents = _proc_table()
            tree = sum(
                _field(Path(f"/proc/{p}/status"), "VmRSS:") for p in _tree(self.pid, parents)
            )
            self.tree_peak = max(self.tree_peak, tree)
            if self.server:
                pss = sum(
                    _field(Path(f"/proc/{p}/smaps_rollup"), "Pss:")
                    for p in _tree(self.server, parents)
                )
                self.server_peak = max(self.server_peak, pss)
            self.done.wait(0.5)


# ------------------------------------------------------------------ PostgreSQL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A PostgreSQL server of its own in ``root`` (Debian's binaries; as the postgres
    user when run as root), on 127.0.0.1 and a free port."""

    def __init__(self, root: Path) -> None:
        self.root, self.data = root, root / "pgdata"
        self.bindir = Path(
            subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        argv = [str(self.bindir / cmd[0]), *cmd[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{cmd[0]} failed: {(done.stderr or done.stdout).strip()[-800:]}")

    def start(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            for d in (self.root, self.root.parent):  # postgres must reach its data
                d.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.data}",
                *(f"-c {k}={v}" for k, v in PG_SETTINGS.items()),
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-o", opts, "-w", "start"
        )

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.url) as con:
            row = con.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def database(self, name: str, drop: bool = False) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            if not drop:
                con.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.pid is not None:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


# ------------------------------------------------------------------ steps
class Runner:
    def __init__(self, work: Path, timeout: float, log: Log) -> None:
        self.work, self.timeout, self.log = work, timeout, log
        self.server: PgServer | None = None
        self.pg_ledger_timeout = timeout
        self.env = dict(os.environ)
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO), *paths])
        self.env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        self.env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {SPARK_DRIVER_MEMORY} pyspark-shell"

    def step(
        self, name: str, label: str, timeout: float | None = None, **args: Any
    ) -> dict[str, Any]:
        """Run one step in a fresh process; its result, or ``{"error": why}``."""
        limit = min(timeout or self.timeout, self.timeout)
        cmd = [sys.executable, "-m", "bench.scale_steps", name, json.dumps(args, default=str)]
        out, err = self.work / "step.out", self.work / "step.err"
        started = time.perf_counter()
        with out.open("w") as fo, err.open("w") as fe:
            proc = subprocess.Popen(
                cmd, cwd=self.work, env=self.env, stdout=fo, stderr=fe, start_new_session=True
            )
            sampler = Sampler(proc.pid, self.server.pid if self.server else None)
            sampler.start()
            try:
                code: int | None = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the step and its JVM, if any
                proc.wait()
                code = None
            sampler.done.set()
            sampler.join()
        wall = time.perf_counter() - started
        text = out.read_text()
        at = text.rfind(RESULT_MARKER)
        if code is None:
            result: dict[str, Any] = {"error": f"timed out after {limit:.0f} s"}
        elif code != 0 or at < 0:
            tail = (err.read_text() or text).strip().splitlines()[-8:]
            result = {"error": f"failed (exit {code}): " + " | ".join(tail)[-600:]}
        else:
            result = json.loads(text[at + len(RESULT_MARKER) :].splitlines()[0])
        result |= {
            "process_seconds": wall,
            "tree_peak": sampler.tree_peak,
            "server_peak": sampler.server_peak,
        }
        if "error" in result:
            self.log(f"  {label:<28} {result['error'][:300]}")
        else:
            self.log(
                f"  {label:<28} {result['seconds']:8.2f} s  peak {mib(result['peak_rss'])}"
                f"  tree {mib(sampler.tree_peak)}  server {mib(sampler.server_peak)}"
            )
        return result


def mib(n: float) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def _ok(r: dict[str, Any] | None) -> bool:
    return r is not None and "error" not in r


def run_size(
    r: Runner,
    n: int,
    engines: Sequence[str],
    seed: int,
    out: dict[str, Any],
    save: Callable[[], None],
) -> None:
    """Measure size ``n`` into ``out`` (``save`` after each engine)."""
    csv = r.work / f"events-{n}.csv"
    r.log(f"[{n:,}] generating")
    out["gen"] = r.step("generate", "generate", events=n, seed=seed, csv=csv)
    if not _ok(out["gen"]):
        return
    home = r.work / f"store-{n}"
    if "duckdb" in engines or "spark" in engines:
        r.log(f"[{n:,}] duckdb")
        d: dict[str, Any] = {}
        d["raw"] = r.step(
            "raw_load",
            "DuckDB COPY to Parquet",
            engine="duckdb",
            csv=csv,
            out=r.work / "raw.parquet",
        )
        remove(r.work / "raw.parquet")
        d["ingest"] = r.step("ingest", "ingest", engine="duckdb", home=home, csv=csv)
        if "duckdb" in engines and _ok(d["ingest"]):
            d["ledger"] = r.step("ledger", "ledger", engine="duckdb", home=home)
            d["ref_ledger"] = r.step(
                "reference_ledger",
                "ledger SQL",
                engine="duckdb",
                home=home,
                out=r.work / "ref.parquet",
            )
            remove(r.work / "ref.parquet")
            if _ok(d["ledger"]):
                d["brief"] = r.step("brief", "brief inputs", engine="duckdb", home=home)
                d["ref_brief"] = r.step("reference_brief", "brief inputs SQL", home=home)
                d["scan_brief"] = r.step("scan_brief", "raw scan of the log", home=home)
        out["duckdb"] = d
        save()
    if "postgres" in engines:
        out["postgres"] = run_postgres(r, n, csv)
        save()
    if "spark" in engines and _ok(out.get("duckdb", {}).get("ingest")):
        out["spark"] = {}
        spark_ingest(r, n, csv, out["spark"], save)
        remove(csv)
        run_spark(r, n, home, out["spark"], save)
    remove(csv, home)


def run_postgres(r: Runner, n: int, csv: Path) -> dict[str, Any]:
    from cxloop.store import db

    assert r.server is not None
    r.log(f"[{n:,}] postgres")
    url = r.server.database(f"bench_{n}")
    db.migrate(url)
    home = r.work / f"pg-home-{n}"
    p: dict[str, Any] = {}
    p["raw"] = r.step("raw_load", "PostgreSQL COPY FROM", engine="postgres", csv=csv, url=url)
    p["ingest"] = r.step("ingest", "ingest", engine="postgres", home=home, csv=csv, url=url)
    if _ok(p["ingest"]):
        p["ref_ledger"] = r.step(
            "reference_ledger", "ledger SQL", engine="postgres", home=home, url=url
        )
        p["ledger"] = r.step(
            "ledger", "ledger", r.pg_ledger_timeout, engine="postgres", home=home, url=url
        )
        if _ok(p["ledger"]):
            p["brief"] = r.step("brief", "brief inputs", engine="postgres", home=home, url=url)
    r.server.database(f"bench_{n}", drop=True)
    remove(home)
    return p


def spark_ingest(r: Runner, n: int, csv: Path, s: dict[str, Any], save: Callable[[], None]) -> None:
    """Spark's own load of the CSV beside cxloop's distributed ingest of it (into a store
    of its own, removed afterwards)."""
    r.log(f"[{n:,}] spark ingest")
    home = r.work / f"spark-ingest-{n}"
    out = r.work / "raw-spark.parquet"
    s["raw"] = r.step(
        "raw_load", "Spark CSV to Parquet", engine="spark", csv=csv, out=out, home=home
    )
    remove(out)
    s["ingest"] = r.step("ingest", "ingest (Spark)", engine="spark", csv=csv, home=home)
    save()
    remove(home)


def run_spark(
    r: Runner, n: int, embedded: Path, s: dict[str, Any], save: Callable[[], None]
) -> None:
    """Spark over the embedded store's log (its segments linked into a store of its own,
    so the two engines' ledgers do not meet)."""
    r.log(f"[{n:,}] spark")
    home = r.work / f"spark-{n}"
    (home / "events").mkdir(parents=True)
    for f in (embedded / "events").iterdir():
        target = home / "events" / f.name
        if f.name == "manifest.json":
            shutil.copy(f, target)
        elif f.is_file():
            target.symlink_to(f.resolve())
    s["ledger"] = r.step("ledger", "ledger", engine="spark", home=home)
    save()
    s["ref_ledger"] = r.step(
        "reference_ledger", "ledger SQL", engine="spark", home=home, out=r.work / "ref-spark"
    )
    save()
    remove(r.work / "ref-spark")
    if _ok(s["ledger"]):
        s["brief"] = r.step("brief", "brief inputs", engine="spark", home=home)
        save()
    remove(home)


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("duckdb", "ibis-framework", "pyspark"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
        out["java"] = (java.stderr or java.stdout).splitlines()[0]
    except (OSError, IndexError):
        out["java"] = "unknown"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="100 k and 1 M events (smoke)")
    parser.add_argument("--size", type=int, action="append", help="events (repeatable)")
    parser.add_argument("--engine", choices=ENGINES, action="append", help="(repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=900.0,
        help="give up on a step after this many seconds (default 900)",
    )
    parser.add_argument(
        "--pg-ledger-timeout",
        type=float,
        default=600.0,
        help="give up on PostgreSQL's ledger build after this many seconds (default 600)",
    )
    parser.add_argument("--workdir", type=Path, help="where the temporary directory goes")
    parser.add_argument("--save", type=Path, help="also write the results (JSON) here")
    args = parser.parse_args(argv)
    sizes = tuple(args.size or (QUICK if args.quick else FULL))
    engines = tuple(e for e in ENGINES if e in (args.engine or ENGINES))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    res: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "seed": args.seed,
        "sizes": list(sizes),
        "engines": list(engines),
        "cores": os.cpu_count(),
        "versions": _versions(),
        "spark": {"master": "local[2]", "driver_memory": SPARK_DRIVER_MEMORY},
        "pg_settings": PG_SETTINGS,
        "step_timeout": args.step_timeout,
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="cxloop-scale-", dir=args.workdir) as tmp:
        r = Runner(Path(tmp), args.step_timeout, log)
        r.pg_ledger_timeout = args.pg_ledger_timeout
        if "postgres" in engines:
            r.server = PgServer(Path(tmp) / "pg")
            r.server.start()
            res["pg_version"] = r.server.version()
            log(f"PostgreSQL {res['pg_version']} on port {r.server.port}")
        try:

            def save() -> None:
                res["total_seconds"] = time.perf_counter() - started
                if args.save:
                    args.save.write_text(json.dumps(res, indent=1))

            for n in sizes:
                res["runs"][str(n)] = {}
                run_size(r, n, engines, args.seed, res["runs"][str(n)], save)
        finally:
            if r.server is not None:
                r.server.stop()
    res["total_seconds"] = time.perf_counter() - started
    if args.save:
        args.save.write_text(json.dumps(res, indent=1))
    print(json.dumps(res))
    return 0


# ------------------------------------------------------------------ the page
ENGINE_NAMES = {
    "duckdb": "embedded (DuckDB)",
    "postgres": "PostgreSQL",
    "spark": "Spark local[2]",
}


def _secs(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    if "error" in r:
        return "**" + ("timeout" if "timed out" in r["error"] else "failed") + "**"
    return f"{r['seconds']:,.2f}"


def _peak(engine: str, r: dict[str, Any] | None) -> str:
    if not _ok(r):
        return "–"
    assert r is not None
    if engine == "postgres":
        return f"{mib(r['peak_rss'])} + server {mib(r['server_peak'])}"
    if engine == "spark":
        return f"{mib(max(r['tree_peak'], r['peak_rss']))}"
    return mib(r["peak_rss"])


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not (_ok(a) and _ok(b)):
        return None
    assert a is not None and b is not None
    return float(a["seconds"]) / float(b["seconds"]) if b["seconds"] else None


def _x(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def section(res: dict[str, Any]) -> list[str]:
    """The ``Scale`` section of docs/benchmarks.md."""
    from bench.run import table

    sizes = [str(n) for n in res["sizes"]]
    runs = res["runs"]
    name = {s: f"{int(s) / 1e6:g} M" for s in sizes}
    lines = ["## Scale: the embedded default, PostgreSQL and Spark", ""]
    lines += [
        f"**{' and '.join(name[s] for s in sizes)} events.** "
        "`python -m bench.scale` ([bench/scale.py](../bench/scale.py); "
        + ("**`--quick`**; " if res.get("quick") else "")
        + f"{res['total_seconds'] / 60:.0f} min on the machine above, {res['date']}). "
        "It generates about N events from about N / 10 customers (the demo generator with "
        "1-3 orders per customer: orders, deliveries kept, late and broken, invoices, "
        "support contacts, callbacks, replacements, NPS / CSAT / CES answers and reviews "
        "with text) as one generic CSV, then, on each engine, each step once in a fresh "
        "process: cxloop's ingest, `build_ledger()` and the brief's engine-side queries "
        "(`brief_inputs()`, [src/cxloop/services/brief/inputs.py]"
        "(../src/cxloop/services/brief/inputs.py): order values, voice scores by week and "
        "metric, the systemic detectors' cells (seven by default), the case signals; every result "
        "fetched, no text models), and beside them the engine's own raw speed: its own "
        "load of the CSV and hand-written SQL of the same ledger "
        "([DuckDB](../bench/reference_ledger.sql), [PostgreSQL]"
        "(../bench/reference_ledger_pg.sql), [Spark SQL](../bench/reference_ledger_spark.sql))"
        " and, on DuckDB, of the same brief inputs "
        "([bench/reference_brief_inputs.sql](../bench/reference_brief_inputs.sql)).",
        "",
        f"Engines: the embedded default (DuckDB over the Parquet log); PostgreSQL "
        f"{res.get('pg_version', '')} started by the benchmark on the same machine "
        f"({', '.join(f'{k} {v}' for k, v in res['pg_settings'].items())}); Spark "
        f"{res['versions'].get('pyspark', '')} in local mode ({res['spark']['master']}, "
        f"driver memory {res['spark']['driver_memory']}, {res['versions'].get('java', '')}) "
        "reading the embedded store's Parquet log, so its ingest is the embedded one. "
        "Spark's seconds leave out the session's start (reported below). Peak memory: the "
        "step's own peak RSS; for Spark the sampled peak RSS of the driver and its JVM; for "
        "PostgreSQL the client's peak RSS + the sampled peak PSS of the server's processes "
        f"(sampled every 0.5 s). A step is given up after {res['step_timeout']:.0f} s.",
        "",
    ]
    gen_rows = []
    for s in sizes:
        g = runs.get(s, {}).get("gen", {})
        if _ok(g):
            gen_rows.append(
                [
                    name[s],
                    f"{g['events']:,}",
                    f"{g['customers']:,}",
                    f"{g['orders']:,}",
                    mib(g["csv_bytes"]),
                    f"{g['seconds']:,.1f}",
                ]
            )
    lines += table(["Size", "Events", "Customers", "Orders", "CSV", "Generated in (s)"], gen_rows)

    steps = [
        ("raw", "engine's own load of the CSV"),
        ("ingest", "cxloop ingest"),
        ("ledger", "`build_ledger()`"),
        ("ref_ledger", "hand-written ledger SQL"),
        ("brief", "`brief_inputs()`"),
        ("ref_brief", "hand-written brief-inputs SQL"),
        ("scan_brief", "raw scan of what the brief reads"),
    ]
    header = ["Engine", "Step"]
    for s in sizes:
        header += [f"{name[s]}: s", "peak memory"]
    header += [f"growth {name[sizes[0]]} → {name[sizes[-1]]}"] if len(sizes) > 1 else []
    rows = []
    for engine in res["engines"]:
        for key, label in steps:
            cells = [runs.get(s, {}).get(engine, {}).get(key) for s in sizes]
            if all(c is None for c in cells):
                continue
            row = [ENGINE_NAMES[engine], label]
            for c in cells:
                row += [_secs(c), _peak(engine, c)]
            if len(sizes) > 1:
                g = _ratio(cells[-1], cells[0])
                ev = [runs[s]["gen"]["events"] for s in (sizes[0], sizes[-1])]
                row.append("–" if g is None else f"{g:.1f}× (events {ev[1] / ev[0]:.1f}×)")
            rows.append(row)
        if engine == "spark":
            for s in sizes:
                sp = runs.get(s, {}).get("spark", {})
                ups = [sp[k]["startup_seconds"] for k in ("ledger", "brief") if _ok(sp.get(k))]
                if ups:
                    lines_note = f"{name[s]}: {min(ups):.1f}-{max(ups):.1f} s"
                    rows.append(
                        [ENGINE_NAMES[engine], f"(session start, not counted: {lines_note})"]
                        + [""] * (len(header) - 2)
                    )
    lines += table(header, rows, "ll" + "r" * (len(header) - 2))

    ratio_rows = []
    for engine in res["engines"]:
        pairs = [("ingest", "raw", "ingest / engine's own load", None)]
        pairs += [("ledger", "ref_ledger", "ledger / hand-written SQL", None)]
        if engine == "duckdb":
            pairs.append(("brief", "ref_brief", "brief inputs / hand-written SQL", BRIEF_RATIO))
            pairs.append(("brief", "scan_brief", "brief inputs / raw scan of the log", None))
        for a, b, label, target in pairs:
            vals = [
                _ratio(
                    runs.get(s, {}).get(engine, {}).get(a), runs.get(s, {}).get(engine, {}).get(b)
                )
                for s in sizes
            ]
            if all(v is None for v in vals):
                continue
            met = "–"
            if target is not None and vals[-1] is not None:
                met = "yes" if vals[-1] <= target else "**no**"
            ratio_rows.append(
                [
                    ENGINE_NAMES[engine],
                    label,
                    *(_x(v) for v in vals),
                    f"≤ {target}×" if target else "–",
                    met,
                ]
            )
    big = runs.get(sizes[-1], {}).get("duckdb", {}).get("brief")
    if _ok(big):
        assert big is not None
        ratio_rows.append(
            [
                ENGINE_NAMES["duckdb"],
                f"brief inputs seconds at {name[sizes[-1]]} ({res['cores']} cores)",
                *(["–"] * (len(sizes) - 1)),
                f"{big['seconds']:.2f} s",
                f"< {BRIEF_SECONDS:.0f} s",
                "yes" if big["seconds"] < BRIEF_SECONDS else "**no**",
            ]
        )
    lines += table(
        ["Engine", "Ratio", *(name[s] for s in sizes), "Target", "Met"],
        ratio_rows,
        "ll" + "r" * (len(sizes) + 2),
    )
    lines += _checks(res, sizes, name)
    lines += [f"> **Note:** {note}" + "\n" for note in res.get("notes", [])]
    return lines


def _checks(res: dict[str, Any], sizes: list[str], name: dict[str, str]) -> list[str]:
    """Each engine's ledger against its hand-written SQL, and the brief inputs' rows."""
    from bench.run import table

    lines = [
        "Checks: cxloop's ledger against the hand-written SQL on the same engine "
        "(promises, and promises per rule and state):",
        "",
    ]
    rows, warnings = [], []
    for s in sizes:
        for engine in res["engines"]:
            e = res["runs"].get(s, {}).get(engine, {})
            for key, how in (("ledger", ""),):
                a, b = e.get(key), e.get("ref_ledger")
                if (
                    not (_ok(a) and _ok(b))
                    or "states" not in (a or {})
                    or "states" not in (b or {})
                ):
                    continue
                assert a is not None and b is not None
                same = a["states"] == b["states"]
                rows.append(
                    [
                        name[s],
                        ENGINE_NAMES[engine] + how,
                        f"{a['promises']:,}",
                        f"{b['promises']:,}",
                        "equal" if same else "**differ**",
                    ]
                )
                if not same or a["promises"] != b["promises"]:
                    warnings.append(f"{name[s]}, {engine}{how}: the ledger differs from the SQL")
    lines += table(
        ["Size", "Engine", "cxloop promises", "reference SQL", "per rule and state"], rows, "llrrr"
    )
    brief_rows = []
    parts = ("order_values", "voice_scores", "incident_cells", "signals")
    for s in sizes:
        for engine in res["engines"]:
            b = res["runs"].get(s, {}).get(engine, {}).get("brief")
            if _ok(b):
                assert b is not None
                brief_rows.append(
                    [name[s], ENGINE_NAMES[engine], *(f"{b['rows'][p]:,}" for p in parts)]
                )
        ref = res["runs"].get(s, {}).get("duckdb", {}).get("ref_brief")
        if _ok(ref):
            assert ref is not None
            brief_rows.append(
                [name[s], "hand-written SQL (DuckDB)", *(f"{ref['rows'][p]:,}" for p in parts)]
            )
            ours = res["runs"][s]["duckdb"].get("brief")
            if _ok(ours) and ours is not None and ours["rows"] != ref["rows"]:
                warnings.append(f"{name[s]}: brief inputs' rows differ from the reference SQL")
        engines_rows = [res["runs"].get(s, {}).get(en, {}).get("brief") for en in res["engines"]]
        counted = [b["rows"] for b in engines_rows if _ok(b) and b is not None]
        if any(c != counted[0] for c in counted):
            warnings.append(f"{name[s]}: brief inputs' rows differ between engines")
    lines += [
        "Brief inputs: rows of each part (they must agree across engines and with the SQL):",
        "",
    ]
    lines += table(["Size", "Engine", *parts], brief_rows, "llrrrr")
    for w in warnings:
        lines += [f"> **Warning:** {w}.", ""]
    return lines


if __name__ == "__main__":
    sys.exit(main())
