"""HTTP benchmarks of ``cxloop serve`` on loopback: event ingest in batches of 1,000 and
the latency of the timeline and brief endpoints under 50 concurrent clients.

Each server is a real ``cxloop serve`` process (uvicorn, one worker) over a store in a
temporary directory; the clients are threads of this process with their own HTTP
connection. The references, measured in the same run: the same batches ingested through
the library in-process (what the endpoint calls, without HTTP), and the timeline query run
in-process.

::

    python -m bench.http [--quick]    # prints JSON
    python -m bench.http --home STORE --workers 2    # timelines only, over a store

With ``--home``, only the timelines of 1,000 random customers of an existing store are
requested (50 clients, ``--per-client`` each), beside the same read in-process. The
store is refreshed first (``cxloop refresh``, timed: the state after an ingest's
background refresh), so the server's warmer has nothing to compute while the clients run;
then 100 requests warm the workers up before the measured ones. ``--no-refresh``: no
refresh first and none in the server (``CXLOOP_REFRESH=off``), for a store whose refresh
would take long (the timelines' own figure).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

BATCH = 1_000
CLIENTS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class Server:
    """``cxloop serve`` in its own process, with an admin key."""

    def __init__(self, home: Path, workers: int = 1) -> None:
        from cxloop.services.access.permissions import create_key
        from cxloop.services.recovery.policy import load_policy
        from cxloop.workspace.workspace import Workspace

        ws = Workspace.open(home)
        self.key = create_key(ws, "bench", "admin", load_policy(None))[0]
        ws.close()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CXLOOP_HOME": str(home)}
        cmd = [sys.executable, "-m", "cxloop", "serve", "--port", str(self.port)]
        cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 300  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=600)

    def stop(self) -> int:
        rss = peak_rss(self.proc.pid) if self.proc.poll() is None else 0
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # workers slow to stop on a loaded machine
            self.proc.kill()
            self.proc.wait(timeout=60)
        return rss


def canonical_events(home: Path) -> list[dict[str, Any]]:
    """The demo store's events as the API takes them (new ids, so they are all new)."""
    import cxloop

    cols = ["event_id", "customer_id", "event_type", "ts", "department", "channel", "ref"]
    cols += ["amount", "due_at", "attrs"]
    with cxloop.open(home) as cx:
        df = cx.events().select(*cols).order_by("ts").execute()
    events = json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))
    for e in events:
        e["event_id"] = "h-" + e["event_id"]
        e["attrs"] = json.loads(e["attrs"]) if e["attrs"] else {}
    return [{k: v for k, v in e.items() if v is not None} for e in events]


def bench_ingest(work: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    from cxloop.services.log.ingest import ingest_path
    from cxloop.workspace.workspace import Workspace

    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    batches = [b for b in batches if len(b) == BATCH]
    # reference: the library's ingest of the same batches as files, in-process
    ws = Workspace.open(work / "store-direct")
    files = []
    for i, batch in enumerate(batches):
        path = work / "batches" / f"b{i:04d}.jsonl"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(json.dumps(e) + "\n" for e in batch))
        files.append(path)
    t = time.perf_counter()
    for path in files:
        ingest_path(ws, path, "generic")
    direct = time.perf_counter() - t
    ws.close()
    server = Server(work / "store-http")
    try:
        with server.client() as client:
            client.post("/api/v1/events", json={"events": batches[0][:10]})  # warm-up
            latencies = []
            t = time.perf_counter()
            for batch in batches:
                s = time.perf_counter()
                r = client.post("/api/v1/events", json={"events": batch})
                latencies.append(time.perf_counter() - s)
                r.raise_for_status()
            http = time.perf_counter() - t
            again = client.post("/api/v1/events", json={"events": batches[0]}).json()
    finally:
        rss = server.stop()
    n = len(batches) * BATCH
    return {
        "batches": len(batches),
        "events": n,
        "http_seconds": http,
        "http_rate": n / http,
        "direct_seconds": direct,
        "direct_rate": n / direct,
        "ratio": http / direct,
        "batch_p50": statistics.median(latencies),
        "batch_p99": sorted(latencies)[max(0, round(0.99 * len(latencies)) - 1)],
        "repeat_new": again["events_new"],
        "repeat_duplicate": again["events_duplicate"],
        "server_peak_rss": rss,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live descendants (the server's
    worker processes)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, IndexError, ValueError):  # gone meanwhile
        pass
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Lean:
    """A keep-alive HTTP/1.1 client on one connection (``http.client``): far less CPU per
    request than a general client, so the clients do not take the server's cores."""

    def __init__(self, server: Server) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        self.headers = {"Authorization": f"Bearer {server.key}"}

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        return r.status, r.read()  # the whole body, as a client would take it

    def close(self) -> None:
        self.conn.close()


def load(server: Server, paths: list[str], per_client: int) -> dict[str, Any]:
    """``CLIENTS`` threads, each with its own keep-alive connection, each sending
    ``per_client`` requests one after another; returns latency percentiles over every
    request, throughput, errors, and the CPU seconds of the clients and of the server."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        mine = []
        c = Lean(server)
        try:
            start.wait()
            for _ in range(per_client):
                path = rng.choice(paths)
                s = time.perf_counter()
                try:
                    status, _ = c.get(path)
                except (OSError, http.client.HTTPException) as exc:
                    status = 0
                    c.close()
                    c = Lean(server)
                    with lock:
                        errors.append(f"{path}: {exc!r}")
                mine.append(time.perf_counter() - s)
                if status not in (0, 200):
                    with lock:
                        errors.append(f"{path}: {status}")
        finally:
            c.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for th in threads:
        th.start()
    cpu_client, cpu_server = own_cpu(), cpu_seconds(server.proc.pid)
    start.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    cpu_client, cpu_server = own_cpu() - cpu_client, cpu_seconds(server.proc.pid) - cpu_server
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    n = len(latencies)
    return {
        "requests": n,
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50": q[49],
        "p90": q[89],
        "p99": q[98],
        "max": max(latencies),
        "throughput": n / wall,
        "wall": wall,
        "client_cpu_per_request": cpu_client / n,
        "server_cpu_per_request": cpu_server / n,
        "client_cpu_share": cpu_client / (cpu_client + cpu_server) if cpu_server else 0.0,
        "load_average": os.getloadavg(),
    }


def bench_latency(home: Path, quick: bool) -> dict[str, Any]:
    import cxloop
    from cxloop.services.log.timeline import timeline_expr

    with cxloop.open(home) as cx:
        customers = cx.events().customer_id.value_counts().execute()["customer_id"].tolist()
        rng = random.Random(7)
        sample = rng.sample(customers, min(200, len(customers)))
        ws = cx.workspace
        timeline_expr(ws.events(), sample[0]).limit(100).execute()  # warm-up
        raw = []
        for c in sample:
            s = time.perf_counter()
            timeline_expr(ws.events(), c).limit(100).execute()
            raw.append(time.perf_counter() - s)
    server = Server(home)
    try:
        with server.client() as c:
            s = time.perf_counter()
            c.get("/api/v1/brief").raise_for_status()
            brief_cold = time.perf_counter() - s
        per = 4 if quick else 20
        timeline = load(server, [f"/api/v1/customers/{c}/timeline" for c in sample], per)
        brief = load(server, ["/api/v1/brief"], per // 2)
        mixed_paths = [f"/api/v1/customers/{c}/timeline" for c in sample[:50]]
        mixed = load(server, [*mixed_paths, "/api/v1/brief", "/api/v1/promises?limit=100"], per)
    finally:
        rss = server.stop()
    return {
        "customers": len(customers),
        "raw_timeline_p50": statistics.median(raw),
        "raw_timeline_p99": sorted(raw)[max(0, round(0.99 * len(raw)) - 1)],
        "timeline": timeline,
        "brief_cold": brief_cold,
        "brief": brief,
        "mixed": mixed,
        "server_peak_rss": rss,
    }


def bench_timelines(
    home: Path, workers: int, per_client: int, refresh: bool = True
) -> dict[str, Any]:
    """Timelines of random customers of an existing store (``--home``) under ``CLIENTS``
    clients, beside the in-process read (``customer_timeline``) of the same customers."""
    import duckdb

    from cxloop.services.log.timeline import customer_timeline
    from cxloop.workspace.workspace import Workspace

    ws = Workspace.open(home)
    files = ", ".join(f"'{p}'" for p in ws.log.segment_paths())  # type: ignore[attr-defined]
    con = duckdb.connect()
    sql = f"SELECT DISTINCT customer_id FROM read_parquet([{files}])"
    ids = [r[0] for r in con.execute(sql).fetchall()]
    con.close()
    sample = random.Random(7).sample(sorted(ids), min(1000, len(ids)))
    customer_timeline(ws, sample[0])
    raw = []
    for c in sample[:200]:
        s = time.perf_counter()
        customer_timeline(ws, c)
        raw.append(time.perf_counter() - s)
    ws.close()
    # the state after an ingest's background refresh: the server's warmer finds its
    # entries kept and has nothing to compute while the clients run (refresh.md)
    env = {**os.environ, "CXLOOP_HOME": str(home)}
    refresh_seconds = None
    if refresh:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cxloop", "refresh"], env=env, check=True)
        refresh_seconds = time.perf_counter() - t
    else:  # no warmer in the server either: the timelines' own figure
        os.environ["CXLOOP_REFRESH"] = "off"
    server = Server(home, workers)
    try:
        load(server, [f"/api/v1/customers/{c}/timeline" for c in sample[:50]], 2)  # warm-up
        timeline = load(server, [f"/api/v1/customers/{c}/timeline" for c in sample], per_client)
    finally:
        rss = server.stop()
    return {
        "customers": len(ids),
        "workers": workers,
        "in_process_p50": statistics.median(raw),
        "in_process_p99": sorted(raw)[max(0, round(0.99 * len(raw)) - 1)],
        "timeline": timeline,
        "refresh_seconds": refresh_seconds,
        "server_peak_rss": rss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer requests")
    parser.add_argument("--home", type=Path, help="timelines only, over this existing store")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--per-client", type=int, default=20, help="requests per client")
    parser.add_argument(
        "--no-refresh",
        action="store_true",
        help="with --home: no refresh first and none in the server (CXLOOP_REFRESH=off)",
    )
    args = parser.parse_args(argv)
    if args.home is not None:
        print(
            json.dumps(
                bench_timelines(args.home, args.workers, args.per_client, not args.no_refresh)
            )
        )
        return 0
    import cxloop
    from cxloop.demo import generate_demo

    with tempfile.TemporaryDirectory(prefix="cxloop-http-") as tmp:
        work = Path(tmp)
        customers = 300 if args.quick else 1500
        generate_demo(work / "data", customers=customers, seed=7)
        home = work / "store"
        with cxloop.open(home) as cx:
            cx.ingest(work / "data")
            cx.build_ledger()
            cx.sync_cases()
            cx.detect_incidents()
        events = canonical_events(home)
        result = {
            "ingest": bench_ingest(work, events[: 10 * BATCH if args.quick else 40 * BATCH]),
            "latency": bench_latency(home, args.quick),
            "events_in_store": len(events),
            "clients": CLIENTS,
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _load_row(label: str, r: dict[str, Any]) -> str:
    return (
        f"| {label} | {r['requests']:,} | {r['errors']} | {_ms(r['p50'])} | {_ms(r['p90'])} | "
        f"{_ms(r['p99'])} | {_ms(r['max'])} | {r['throughput']:,.0f} |"
    )


def section(res: Any) -> list[str]:
    """The page's section for :func:`main`'s JSON."""
    lines = ["## HTTP: `cxloop serve` on loopback", ""]
    if not isinstance(res, dict):
        return [*lines, f"**Did not complete:** {res}", ""]
    i, lat = res["ingest"], res["latency"]
    lines += [
        "A real `cxloop serve` process (uvicorn, one worker process) over a temporary store; "
        "clients are threads of the benchmark process, each with its own keep-alive "
        "connection, on the same 2 cores as the server.",
        "",
        f"### Event ingest in batches of {BATCH:,}",
        "",
        f"{i['events']:,} events of the demo company (new ids) in {i['batches']} batches, "
        "one client, one batch after another; the reference is the library's own ingest of "
        "the same batches as JSON Lines files in-process (what the endpoint calls).",
        "",
        "| | seconds | events/s | batch p50 | batch p99 |",
        "|---|---:|---:|---:|---:|",
        f"| `POST /api/v1/events` | {i['http_seconds']:.2f} | {i['http_rate']:,.0f} | "
        f"{_ms(i['batch_p50'])} | {_ms(i['batch_p99'])} |",
        f"| library ingest, in-process | {i['direct_seconds']:.2f} | {i['direct_rate']:,.0f} | | |",
        "",
        f"Ratio HTTP / in-process: {i['ratio']:.2f}x. Re-sending a batch added "
        f"{i['repeat_new']} events ({i['repeat_duplicate']:,} duplicates). Server peak RSS "
        f"{i['server_peak_rss'] / 2**20:,.0f} MiB.",
        "",
        f"### Latency under {res['clients']} concurrent clients",
        "",
        f"The demo company ({res['events_in_store']:,} events, {lat['customers']:,} people); "
        "each client sends its requests one after another (a bounded run). Timeline = "
        "`GET /api/v1/customers/{id}/timeline` for random customers (first page, up to 100 "
        "events); brief = `GET /api/v1/brief` (computed once per log version, then served "
        "from memory); mixed = timelines, the brief and a page of promises.",
        "",
        "| endpoint | requests | errors | p50 | p90 | p99 | max | requests/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _load_row("timeline", lat["timeline"]),
        _load_row("brief (warm)", lat["brief"]),
        _load_row("mixed", lat["mixed"]),
        "",
        f"The first brief on the store (embedding the texts, topics, every candidate) took "
        f"{lat['brief_cold']:.1f} s. The timeline query alone, in-process on one thread: p50 "
        f"{_ms(lat['raw_timeline_p50'])} (p99 {_ms(lat['raw_timeline_p99'])}), i.e. "
        f"{1 / lat['raw_timeline_p50']:,.0f} queries/s; the server answers "
        f"{lat['timeline']['throughput']:,.0f} timeline requests/s with the key check, paging, "
        "JSON and HTTP on top: "
        f"{lat['timeline']['throughput'] * lat['raw_timeline_p50']:.2f}x the engine's own "
        "rate. With 50 clients queueing on 2 cores, latency is mostly waiting for a turn "
        f"(p50 ~ clients / throughput). Server peak RSS {lat['server_peak_rss'] / 2**20:,.0f} "
        "MiB.",
        "",
    ]
    return lines
