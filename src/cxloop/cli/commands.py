"""Command bodies: call the library, render the result."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cxloop import client
from cxloop.cli.export import ReportFormat, export
from cxloop.cli.render import (
    PROMISE_REPORT_COLUMNS,
    RATE_COLUMNS,
    Format,
    clean,
    emit_json,
    make_console,
    records,
    table,
)
from cxloop.domain.money import minor_digits
from cxloop.errors import ConfigError
from cxloop.library.edges import load_rules

out = make_console()
err = make_console(stderr=True)
INGEST_STEPS = 4


def refresh_behind(home: Path, nice: int = 0) -> None:
    """Start ``cxloop refresh`` for ``home`` as a process of its own (it outlives this
    command; its output goes to HOME/refresh.log), ``nice`` steps below normal priority
    (the setting ``refresh_nice``: a server's requests come first)."""
    with (home / "refresh.log").open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "cxloop", "refresh", "--home", str(home), "--nice", str(nice)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def ingest(
    cx: client.Cxloop,
    path: Path,
    source: str,
    force: bool,
    fmt: Format,
    mapping: Path | None = None,
    params: dict[str, str] | None = None,
    engine: str | None = None,
    refresh: bool | None = None,
) -> None:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=fmt is Format.JSON,
    ) as bar:
        task = bar.add_task(f"ingest {path}", total=INGEST_STEPS)

        def step(message: str) -> None:
            bar.update(task, description=message)
            bar.advance(task)

        # not asked either way: the refresh runs in a process of its own (the command
        # returns now); --refresh waits for it, --no-refresh skips it (docs/refresh.md)
        behind = refresh is None and cx.workspace.settings.refresh
        report = cx.ingest(
            path,
            source,
            progress=step,
            force=force,
            mapping=mapping,
            params=params or None,
            engine=engine,
            refresh=False if behind else refresh,
        )
    if behind and report.events_new:
        refresh_behind(cx.home, cx.workspace.settings.refresh_nice)
    if fmt is Format.JSON:
        emit_json(out, report.as_dict())
        return
    if report.unchanged:
        out.print("Unchanged since it was loaded before: nothing to read (use --force to re-read).")
    out.print(
        f"[bold]{report.events_new:,}[/] new events from {report.rows_read:,} rows "
        f"({len(report.files)} file(s), source {report.source}); "
        f"{report.events_duplicate:,} already in the log; "
        f"{report.rows_quarantined:,} row(s) quarantined. Ingest {report.ingest_id}.",
        highlight=False,
    )
    for warning in report.warnings:
        out.print("Warning: " + warning, style="yellow", markup=False, highlight=False)
    if report.problems:
        df = pd.DataFrame([p.__dict__ for p in report.problems])
        df["file"] = df["file"].map(lambda f: Path(f).name)
        table(
            out,
            "Quarantined (see `cxloop quarantine`)",
            df.head(20),
            ["file", "row", "field", "reason"],
        )
        if len(df) > 20:
            out.print(f"… and {len(df) - 20} more problem(s).")


def quarantine(
    cx: client.Cxloop, all_loads: bool, file: str | None, fmt: ReportFormat, dest: Path | None
) -> None:
    df = cx.quarantine(all_loads=all_loads, file=file)
    rows = df.drop(columns=["file_sha256"])
    if export(out, fmt, dest, rows, {"count": len(df), "rows": records(rows)}):
        return
    if df.empty:
        out.print("The quarantine is empty.")
        return
    table(
        out,
        f"Quarantine: {len(df)} problem(s)",
        df.assign(file=df["file"].map(_short_path)),
        ["file", "row", "field", "reason", "value", "ingest_id"],
    )


def _short_path(path: str) -> str:
    """A file path relative to the working directory when it lies under it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def timeline(cx: client.Cxloop, customer_id: str, fmt: ReportFormat, dest: Path | None) -> None:
    df = cx.timeline(customer_id)
    if export(out, fmt, dest, df, {"customer_id": customer_id, "events": records(df)}):
        return
    df = df.assign(details=df["attrs"].map(_details))
    table(
        out,
        f"Timeline of {customer_id}: {len(df)} event(s)",
        df,
        ["ts", "department", "event_type", "channel", "ref", "amount", "due_at", "details"],
        money={"amount": minor_digits(cx.workspace.settings.currency)},
    )
    promises = cx.promises(customer_id)
    if not promises.empty:
        table(
            out,
            "Promises made to this customer",
            promises,
            ["rule", "ref", "due_at", "fulfilled_at", "state", "breach", "at_risk_reason"],
        )


def _details(attrs: str | None, width: int = 90) -> str:
    """attrs JSON as short ``key=value`` pairs for a table cell."""
    if not attrs:
        return ""
    try:
        data = json.loads(attrs)
    except json.JSONDecodeError:
        return attrs[:width]
    text = ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", []))
    return text if len(text) <= width else text[: width - 1] + "…"


def promise_report(cx: client.Cxloop, by: list[str], fmt: ReportFormat, dest: Path | None) -> None:
    from cxloop.analytics.reports import DIMENSIONS

    unknown = [b for b in by if b not in DIMENSIONS]
    if unknown:
        raise ConfigError(f"--by {unknown[0]}: expected one of {', '.join(DIMENSIONS)}")
    groups = {b: cx.promise_report(by=b) for b in by}
    status = clean(cx.ledger_status())
    payload = {
        "as_of": status.get("as_of"),
        "log_version": status.get("log_version"),
        "rules_version": status.get("rules_version"),
        "groups": {b: records(df) for b, df in groups.items()},
    }
    if export(out, fmt, dest, report_rows(groups), payload):
        return
    out.print(
        f"Promise ledger as of {status.get('as_of', '')[:16].replace('T', ' ')} "
        f"(log version {status.get('log_version')}).",
        highlight=False,
    )
    for b, df in groups.items():
        table(out, f"Promises by {b}", df, [b, *PROMISE_REPORT_COLUMNS], percent=RATE_COLUMNS)


def report_rows(groups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The promise report's groups as one table: the dimension (``by``), its ``value``,
    then the figures (CSV and Parquet rows)."""
    frames = [
        df.rename(columns={b: "value"}).astype({"value": "string"}).assign(by=b)
        for b, df in groups.items()
    ]
    both = pd.concat(frames, ignore_index=True)
    return both[["by", "value", *[c for c in both.columns if c not in ("by", "value")]]]


def _cell(where: list[str]) -> dict[str, str | None]:
    """``--where DIM=VALUE`` options as a group (an empty value: the group without one)."""
    from cxloop.analytics.reports import DIMENSIONS

    cell: dict[str, str | None] = {}
    for item in where:
        by, sep, value = item.partition("=")
        if not sep or by not in DIMENSIONS:
            raise ConfigError(
                f"--where {item}: expected DIM=VALUE with DIM one of {', '.join(DIMENSIONS)}"
            )
        cell[by] = value or None
    return cell


def promise_customers(
    cx: client.Cxloop, figure: str, where: list[str], fmt: ReportFormat, dest: Path | None
) -> None:
    """The promises behind one figure of the report: as many rows as the figure."""
    cell = _cell(where)
    df = cx.promise_customers(figure, **cell)
    payload = {"figure": figure, "where": cell, "count": len(df), "rows": records(df)}
    if export(out, fmt, dest, df, payload):
        return
    group = ", ".join(f"{k}={v or '(none)'}" for k, v in cell.items()) or "all promises"
    title = (
        f"{figure} in {group}: {len(df):,} promise(s), {df['customer_id'].nunique():,} customer(s)"
    )
    table(
        out,
        title,
        df,
        ["customer_id", "kind", "ref", "state", "broken_reason", "due_at", "fulfilled_at"],
    )


def customer_promises(
    cx: client.Cxloop, customer_id: str, fmt: ReportFormat, dest: Path | None
) -> None:
    df = cx.promises(customer_id)
    base = cx.baselines(customer_id)
    payload = {"customer_id": customer_id, "promises": records(df), "baselines": records(base)}
    if export(out, fmt, dest, df, payload):
        return
    if df.empty:
        out.print(f"No promises for customer {customer_id}.")
        return
    table(
        out,
        f"Promises of {customer_id}",
        df,
        [
            "rule",
            "ref",
            "opened_at",
            "due_at",
            "fulfilled_at",
            "state",
            "breach",
            "duration_hours",
            "baseline_hours",
            "below_baseline",
            "at_risk_reason",
        ],
    )
    if not base.empty:
        table(
            out,
            "What this customer has come to expect",
            base,
            ["rule", "fulfilled", "usual_hours", "best_hours", "last_hours", "below_baseline"],
        )


def baselines(
    cx: client.Cxloop, customer: str | None, fmt: ReportFormat, dest: Path | None
) -> None:
    df = cx.baselines(customer)
    if export(out, fmt, dest, df, {"baselines": records(df)}):
        return
    table(out, f"Expectation baselines: {len(df):,} customer/rule pair(s)", df.head(50))
    if len(df) > 50:
        out.print(f"… {len(df) - 50:,} more; use --customer or --format json.")


def ledger_build(cx: client.Cxloop, as_of: datetime | None, fmt: Format) -> None:
    build = cx.build_ledger(as_of)
    if fmt is Format.JSON:
        emit_json(out, build.as_dict())
        return
    out.print(
        f"Built {build.promises:,} promises as of {build.as_of} from log version "
        f"{build.log_version} in {build.seconds:.2f}s.",
        highlight=False,
    )


def ledger_status(cx: client.Cxloop, fmt: Format) -> None:
    status = clean(cx.ledger_status())
    if fmt is Format.JSON:
        emit_json(out, status)
        return
    if not status.get("file"):
        out.print("No ledger built yet: run `cxloop ledger build`.")
        return
    state = "stale (the log or rules changed)" if status["stale"] else "up to date"
    out.print(
        f"{status['promises']:,} promises as of {status['as_of']}, built "
        f"{status['built_at']} from log version {status['log_version']}: {state}.",
        highlight=False,
    )


def rules_check(file: Path | None, fmt: Format) -> None:
    rules = load_rules(file)
    df = pd.DataFrame(
        [
            {
                "name": r.name,
                "kind": r.kind,
                "department": r.department,
                "opens_on": r.opens_on,
                "fulfilled_by": r.fulfilled_by,
                "due": "event due_at, else +" + str(r.due_after)
                if r.use_event_due
                else "+" + str(r.due_after),
                "exceeded_margin": str(r.exceeded_margin),
                "risks": ", ".join(k.reason for k in r.risks),
            }
            for r in rules.rules
        ]
    )
    if fmt is Format.JSON:
        emit_json(out, {"version": rules.version, "rules": records(df)})
        return
    table(out, f"{len(df)} valid rule(s), version {rules.version}", df)


def export_log(home: Path | None, target: Path, output: str, fmt: Format) -> None:
    with client.open(home) as cx, err.status("exporting the event log…"):
        result = cx.export_log(target, output)
    if fmt is Format.JSON:
        emit_json(out, result)
        return
    out.print(
        f"Exported {result['rows']:,} events to {result['path']} ({result['bytes']:,} bytes, "
        f"checksum {result['checksum']}, {result['seconds']:.2f}s).",
        highlight=False,
    )


def import_log(home: Path | None, source: Path, fmt: Format) -> None:
    with client.open(home) as cx, err.status("importing events…"):
        result = cx.import_log(source)
    if fmt is Format.JSON:
        emit_json(out, result)
    else:
        out.print(
            f"Imported {result['rows_read']:,} rows: {result['events_new']:,} new, "
            f"{result['events_duplicate']:,} already here, {result['rows_quarantined']} "
            f"quarantined; checksum {result['checksum']} "
            + ("verified in the store." if result["verified"] else "[bold red]NOT verified[/]."),
            highlight=False,
        )
        for p in result["problems"][:20]:
            out.print(f"  row {p['row']}, {p['field']}: {p['reason']}", highlight=False)
    if not result["verified"]:
        raise SystemExit(1)


def compact(home: Path | None, fmt: Format) -> None:
    with client.open(home) as cx, err.status("compacting the event log…"):
        result = cx.compact()
    if fmt is Format.JSON:
        emit_json(out, result)
        return
    out.print(
        f"Event log: {result['segments_before']} segment(s) -> {result['segments_after']}, "
        f"{result['rows']:,} events, version {result['log_version']} "
        f"({result['seconds']:.2f}s).",
        highlight=False,
    )


def demo(workdir: Path, customers: int, seed: int, serve: bool = False, port: int = 8000) -> None:
    from cxloop.cli.demo import run_demo, serve_demo

    run_demo(workdir, customers, seed, out, err)
    if serve:
        serve_demo(workdir, port)
