"""The embedded ingest's time, statement by statement: wall and CPU seconds of every
DuckDB statement one ``ingest_path(ws, CSV, "generic")`` runs, and the ingest's steps.

::

    python -m bench.ingest_phases events_1m.csv --home /tmp/phases-store

The store (``--home``) must be new (a second run into it finds every event a duplicate;
``--force`` re-reads a file loaded before). CPU seconds are the process's user + system
time over the statement (DuckDB's threads included): on a machine shared with other work
they compare better than wall seconds. ``CXLOOP_INGEST_MEMORY`` and the other settings
apply as to ``cxloop ingest``. Statements under ``--min`` wall seconds are left out.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

import cxloop.services.log.ingest as ingest
from bench.steps import cpu_seconds
from cxloop.workspace.workspace import Workspace


class Timed:
    """A DuckDB connection whose ``execute`` records (wall s, CPU s, statement)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, log: list[tuple[float, float, str]]):
        self._con, self._log = con, log

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = self._con.execute(sql, *args, **kwargs)
        self._log.append((time.perf_counter() - wall, cpu_seconds() - cpu, " ".join(sql.split())))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--min", type=float, default=0.05)
    args = parser.parse_args(argv)
    log: list[tuple[float, float, str]] = []
    real = duckdb.connect
    ingest.duckdb.connect = lambda *a, **k: Timed(real(*a, **k), log)  # type: ignore[assignment]
    steps: list[tuple[float, str]] = []
    started, cpu = time.perf_counter(), cpu_seconds()
    try:
        ws = Workspace.open(args.home)
        report = ingest.ingest_path(
            ws,
            args.csv,
            force=args.force,
            progress=lambda msg: steps.append((time.perf_counter() - started, msg)),
        )
    finally:
        ingest.duckdb.connect = real  # type: ignore[assignment]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"ingest: {time.perf_counter() - started:.2f} s wall, {cpu_seconds() - cpu:.2f} s CPU, "
        f"peak {peak:,.0f} MiB; {report.rows_read:,} rows, {report.events_new:,} new, "
        f"{report.events_duplicate:,} duplicate, {report.rows_quarantined:,} quarantined"
    )
    for at, msg in steps:
        print(f"  at {at:7.2f} s  {msg}")
    for wall, spent, sql in log:
        if wall >= args.min:
            print(f"{wall:8.2f} s wall {spent:7.2f} s CPU  {sql[:110]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
