"""Where the PostgreSQL ingest's time goes, beside PostgreSQL's own COPY in the same run::

    python -m bench.pg_phases --csv events_1m.csv [--rounds 2] [--collate C]

Against a server started for the run as :mod:`bench.scale` starts its own (the same
settings), or ``--server postgresql://postgres@HOST:PORT``, one of your own on this
machine (the server's CPU is read from /proc: the postmaster's and its children's). Each
round in two fresh processes, one after the other: the reference
(``bench.scale_steps raw_load``: ``COPY ... FROM STDIN (FORMAT csv)`` into a plain table)
and ``ingest_path`` into a new, migrated database, with the ingest's phases timed (wall
seconds, this process's CPU seconds and the server's). Prints one table per round and,
last, a JSON line with every figure. ``--collate C`` creates the databases with
``LC_COLLATE 'C'`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.steps import peak_rss, run_marked

MARK = "PG-PHASES "
#: (module, function, label) timed in the ingest step
PHASES = (
    ("cxloop.services.log.ingest", "_sha256", "hash the file"),
    ("cxloop.ingest.mappings.generic", "GenericMapping.stage", "DuckDB: read, map, check"),
    ("cxloop.services.log.ingest", "quarantine_out_of_scale", "DuckDB: scale checks"),
    ("cxloop.store.pgappend", "copy_in", "binary COPY (DuckDB scan + encode + server)"),
    ("cxloop.store.pgappend", "build_indexes", "indexes built after the load"),
    ("cxloop.store.pglog", "PgEventLog.append", "append in all (lock to commit)"),
)


class Meter:
    """Wall, own and server CPU seconds of named phases."""

    def __init__(self, url: str) -> None:
        import psycopg

        with psycopg.connect(url) as pg:
            row = pg.execute("SHOW data_directory").fetchone()
        pid_file = Path(str(row[0] if row else "")) / "postmaster.pid"
        self.postmaster = int(pid_file.read_text().split()[0])
        self.tick = os.sysconf("SC_CLK_TCK")
        self.phases: dict[str, list[float]] = {}

    def server_cpu(self) -> float:
        """CPU seconds of the postmaster, its reaped children and its live ones."""

        def fields(pid: int | str) -> list[str] | None:
            try:
                return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None

        own = fields(self.postmaster) or []
        total = sum(int(x) for x in own[11:15])
        for pid in filter(str.isdigit, os.listdir("/proc")):
            f = fields(pid)
            if f and int(f[1]) == self.postmaster:
                total += int(f[11]) + int(f[12])
        return total / self.tick

    @contextmanager
    def phase(self, name: str, settle: float = 0.0) -> Iterator[None]:
        t, c, s = time.perf_counter(), _own_cpu(), self.server_cpu()
        try:
            yield
        finally:
            time.sleep(settle)  # a closed connection's backend is reaped, its CPU counted
            got = self.phases.setdefault(name, [0.0, 0.0, 0.0])
            got[0] += time.perf_counter() - t - settle
            got[1] += _own_cpu() - c
            got[2] += self.server_cpu() - s


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _wrap(meter: Meter, module: str, qualname: str, label: str) -> None:
    import importlib

    owner: Any = importlib.import_module(module)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        with meter.phase(label):
            return original(*args, **kwargs)

    setattr(owner, name, timed)


def _database(server: str, name: str, collate: str | None, drop: bool = False) -> str:
    """A new, empty database ``name`` (dropped first if there), or with ``drop`` none."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
        pg.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if drop:
            return ""
        extra = f" TEMPLATE template0 LC_COLLATE '{collate}'" if collate else ""
        pg.execute(f"CREATE DATABASE {name}{extra}")
    return f"{server}/{name}"


def step(args: dict[str, Any]) -> dict[str, Any]:
    """One measured step in this process: ``raw`` or ``ingest``."""
    import tempfile

    url = _database(args["server"], f"bench_{args['what']}", args.get("collate"))
    meter = Meter(url)
    if args["what"] == "raw":
        from bench.scale_steps import raw_load

        with meter.phase("PostgreSQL's own COPY (reference)", settle=0.5):
            raw_load({"engine": "postgres", "csv": args["csv"], "url": url})
    else:
        from cxloop.services.log.ingest import ingest_path
        from cxloop.store import db
        from cxloop.workspace.workspace import Workspace

        db.migrate(url)
        for module, qualname, label in PHASES:
            _wrap(meter, module, qualname, label)
        with tempfile.TemporaryDirectory(prefix="pg-phases-") as home:
            ws = Workspace.open(home, database_url=url)
            try:
                with meter.phase("cxloop ingest in all"):
                    report = ingest_path(ws, args["csv"], "generic")
            finally:
                ws.close()
        meter.phases["events appended"] = [float(report.events_new), 0.0, 0.0]
    _database(args["server"], f"bench_{args['what']}", None, drop=True)
    return {"phases": meter.phases, "peak_rss": peak_rss(), "load": os.getloadavg()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", nargs=1, help=argparse.SUPPRESS)
    parser.add_argument("--csv")
    parser.add_argument("--server", help="postgresql://user@host:port (no database)")
    parser.add_argument("--work", default=".", help="where a server of the run keeps its data")
    parser.add_argument("--collate", help="LC_COLLATE of the databases, e.g. C")
    parser.add_argument("--rounds", type=int, default=1)
    opts = parser.parse_args(argv)
    if opts.step:
        print(MARK + json.dumps(step(json.loads(opts.step[0]))))
        return
    if opts.server:
        print(json.dumps(_rounds(opts, opts.server)))
        return
    import tempfile

    from bench.scale import PgServer

    with tempfile.TemporaryDirectory(prefix="pg-phases-", dir=opts.work) as tmp:
        server = PgServer(Path(tmp) / "pg")
        server.start()
        try:
            print(json.dumps(_rounds(opts, server.url.rsplit("/", 1)[0])))
        finally:
            server.stop()


def _rounds(opts: argparse.Namespace, server: str) -> list[dict[str, Any]]:
    """``opts.rounds`` rounds of the reference and the ingest against ``server``."""
    base = {"csv": str(Path(opts.csv).resolve()), "server": server, "collate": opts.collate}
    rounds = []
    for i in range(opts.rounds):
        got = {
            what: run_marked("bench.pg_phases", MARK, [json.dumps({**base, "what": what})])
            for what in ("raw", "ingest")
        }
        rounds.append(got)
        _print(i + 1, got)
    return rounds


def _print(n: int, got: dict[str, Any]) -> None:
    ref = got["raw"]["phases"]["PostgreSQL's own COPY (reference)"]
    print(f"round {n} (load average {got['ingest']['load'][0]:.1f})")
    print(f"{'phase':52s} {'wall s':>7s} {'own CPU':>8s} {'server CPU':>10s}")
    for name, (wall, own, server) in {**got["raw"]["phases"], **got["ingest"]["phases"]}.items():
        print(f"{name:52s} {wall:7.2f} {own:8.2f} {server:10.2f}")
    total = got["ingest"]["phases"]["cxloop ingest in all"]
    print(
        f"ratio ingest / COPY: {total[0] / ref[0]:.2f}x wall, "
        f"{(total[1] + total[2]) / (ref[1] + ref[2]):.2f}x CPU (own + server); "
        f"peak RSS {got['ingest']['peak_rss'] >> 20} MiB (reference {got['raw']['peak_rss'] >> 20})"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
