"""``make demo`` / ``cxloop demo``: the whole loop on a generated company."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.panel import Panel

from cxloop import client
from cxloop.cli.render import (
    COMPARE_COLUMNS,
    COMPARE_PERCENT,
    PROMISE_REPORT_COLUMNS,
    RATE_COLUMNS,
    table,
)

if TYPE_CHECKING:
    from cxloop import Voice

DEMO_KEY_NAME = "demo"


def run_demo(workdir: Path, customers: int, seed: int, out: Console, err: Console) -> None:
    from cxloop.demo import company
    from cxloop.demo.generator import generate_demo

    data_dir, home = workdir / "data", workdir / "store"
    with err.status(f"generating the demo company ({company.BRAND})…"):
        dataset = generate_demo(data_dir, customers=customers, seed=seed)
    out.print(
        Panel.fit(
            f"{company.BRAND}: {dataset.n_customers:,} customers, {dataset.n_events:,} events from "
            f"{len(dataset.files)} department exports ({dataset.start:%Y-%m-%d} to "
            f"{dataset.end:%Y-%m-%d}), {dataset.bad_rows} deliberately bad rows.\n"
            + "\n".join(f"• {name}: {text}" for name, text in dataset.scenarios.items()),
            title="demo data",
        ),
        highlight=False,
    )
    with client.open(home, **company.SETTINGS) as cx:
        with err.status("ingesting every department's export…"):
            report = cx.ingest(data_dir, "generic", refresh=False)  # the demo asks next
        out.print(
            f"Ingested {report.events_new:,} new events ({report.events_duplicate:,} "
            f"already in the log) from {report.rows_read:,} rows; "
            f"{report.rows_quarantined} row(s) quarantined.",
            highlight=False,
        )
        q = cx.quarantine()
        if not q.empty:
            q = q.assign(file=q["file"].map(lambda f: Path(f).name))
            table(out, "Quarantine (bad rows, nothing lost)", q, ["file", "row", "field", "reason"])
        with err.status("building the promise ledger…"):
            build = cx.build_ledger()
        out.print(
            f"Promise ledger: {build.promises:,} promises as of {build.as_of[:16]} "
            f"({build.seconds:.2f}s).",
            highlight=False,
        )
        for by in ("kind", "department"):
            table(
                out,
                f"Promises by {by}",
                cx.promise_report(by),
                [by, *PROMISE_REPORT_COLUMNS],
                percent=RATE_COLUMNS,
            )
        _at_risk(cx, out)
        _disappointed(cx, out)
        with err.status("raising cases from signals…"):
            _recovery(cx, out)
        with err.status("looking for systemic failures…"):
            _outreach(cx, out)
        with err.status("listening to customers and employees…") as status:
            v = cx.voice(progress=status.update)
            _voice(cx, out, v)
            one = cx.brief(voice=v).one_thing
        if one:
            out.print(
                f"\n[bold]The one thing to do today[/] (`cxloop brief`): {one.action}.\n"
                f"  {one.title} — {one.customers:,} customers, {one.revenue:,.2f} "
                f"{cx.workspace.settings.currency} in "
                "orders.",
                highlight=False,
            )
    env = " ".join(f"{k}='{v}'" for k, v in company.ENV.items())
    out.print(
        f"\nNext: [bold]cxloop --help[/]; with CXLOOP_HOME={home} {env}: "
        "`cxloop timeline CUSTOMER`, `cxloop promises --customer CUSTOMER`, "
        "`cxloop cases list`, `cxloop recover CASE`, `cxloop outreach preview INCIDENT`, "
        "`cxloop voice topics`, `cxloop voice emerging`, `cxloop voice drivers`, `cxloop brief`, "
        "`cxloop promises --by month --format json`.",
        highlight=False,
    )


def _at_risk(cx: client.Cxloop, out: Console) -> None:
    t = cx.ledger()
    risky = (
        t.filter(t.state == "at_risk")
        .order_by("due_at")
        .select("customer_id", "rule", "ref", "due_at", "at_risk_at", "at_risk_reason")
        .limit(10)
        .execute()
    )
    if not risky.empty:
        table(out, "Open promises at risk now (act before the customer chases)", risky)


def _disappointed(cx: client.Cxloop, out: Console) -> None:
    t = cx.ledger()
    rows: pd.DataFrame = (
        t.filter(t.below_baseline)
        .order_by(t.opened_at.desc())
        .select("customer_id", "rule", "ref", "state", "duration_hours", "baseline_hours")
        .limit(5)
        .execute()
    )
    if not rows.empty:
        table(out, "Kept, but slower than this customer is used to", rows)


def _recovery(cx: client.Cxloop, out: Console) -> None:
    report = cx.sync_cases()
    out.print(
        f"\nCases: {report.signals_new} new signals in the last 30 days filed as "
        f"{report.cases_opened} new cases ({report.cases_auto_resolved} resolved by themselves).",
        highlight=False,
    )
    cases = pd.DataFrame([c.as_dict() for c in cx.cases()])
    if cases.empty:
        return
    by = cases.groupby(["department", "severity"]).size().rename("cases").reset_index()
    table(out, "Cases by department and severity", by)
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    open_cases = cases[cases.state == "open"].sort_values(
        ["severity", "opened_at"], key=lambda c: c.map(rank) if c.name == "severity" else c
    )
    if open_cases.empty:
        return
    advice = cx.recover(str(open_cases.case_id.iloc[0]), role="agent").as_dict()
    out.print(
        f"\n[bold]cxloop recover {advice['case_id']}[/] ({advice['severity']}): {advice['reason']}",
        highlight=False,
    )
    lines = pd.DataFrame(advice["lines"])
    lines["amount"] = lines.amount.where(lines.amount > 0)
    lines["you (agent)"] = [
        "may grant this now" if ok else f"needs approval from {who}"
        for ok, who in zip(lines.allowed, lines.needs_role, strict=True)
    ]
    table(out, "Recommended remedy", lines, ["remedy", "amount", "why", "you (agent)"])


def _outreach(cx: client.Cxloop, out: Console) -> None:
    found = cx.detect_incidents()
    if not found:
        out.print("No systemic failure found.")
        return
    rows = []
    for incident in found:
        s = cx.draft_outreach(incident.incident_id).summary()
        rows.append(
            {
                "incident": incident.incident_id,
                "what": incident.summary,
                "customers": s["customers"],
                "not yet complained": s["not_yet_complained"],
                "left a low review": s["left_low_review"],
            }
        )
    table(out, "Systemic failures: reach the whole cohort before they call", pd.DataFrame(rows))
    out.print(found[0].method, highlight=False)


def _voice(cx: client.Cxloop, out: Console, v: Voice) -> None:
    scores = v.scores()
    scores["score"] = [
        f"{r.value:.1f} ({r.ci_low:.1f} to {r.ci_high:.1f})" for r in scores.itertuples()
    ]
    table(out, "Voice: scores with 95% intervals", scores, ["headline", "n", "score"])
    topics = v.topics()
    pain = topics.sort_values("negative_share", ascending=False).head(5)
    pain = pain.assign(example=pain["examples"].map(lambda e: e[0] if e else ""))
    table(
        out,
        f"Top pain points ({topics.attrs['k']} topics found in {topics.attrs['texts']:,} texts)",
        pain,
        ["label", "texts", "negative_share", "example"],
        percent=["negative_share"],
    )
    d = cx.voice_drivers(voice=v).head(4)
    table(
        out,
        "Key drivers of the score (points on 0-100)",
        d,
        ["driver", "answers_with", "mean_with", "mean_without", "coefficient", "p"],
    )
    c = cx.voice_compare(voice=v)
    table(
        out,
        "What customers say, what employees say",
        c,
        COMPARE_COLUMNS,
        percent=COMPARE_PERCENT,
    )


def serve_demo(workdir: Path, port: int) -> None:
    """Serve the demo store, with a fresh admin key (earlier demo keys are revoked)."""
    from cxloop.cli.serve import serve_store
    from cxloop.demo import company
    from cxloop.library.edges import create_key, list_keys, revoke_key

    home = (workdir / "store").resolve()
    for name, value in company.ENV.items():  # the served store signs as the demo company
        os.environ.setdefault(name, value)
    with client.open(home) as cx:
        for row in list_keys(cx.workspace):
            if row["name"] == DEMO_KEY_NAME:
                revoke_key(cx.workspace, row["key_id"])
        token, _ = create_key(cx.workspace, DEMO_KEY_NAME, "admin", cx.policy, created_by="demo")
    url = f"http://127.0.0.1:{port}/"
    serve_store(
        home,
        "127.0.0.1",
        port,
        1,
        [
            f"\nSign in at {url}login with the demo's admin key (or call the API with "
            f"`Authorization: Bearer <key>`):\n  {token}",
            f"More keys: cxloop keys create --name NAME --role viewer|agent|lead|admin "
            f"--home {home}",
        ],
    )
