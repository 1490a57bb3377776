"""``cxloop brief``: the daily brief in the terminal, as JSON, or as one HTML page."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.render import clean, emit_json, fmt, make_console, table


def _num(value: Any) -> str:
    return fmt(value) if value is not None else ""


HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
AsOfOpt = Annotated[
    datetime | None,
    typer.Option("--as-of", help="The brief's date, UTC (default: the latest event's time)."),
]
DetectorsOpt = Annotated[
    Path | None,
    typer.Option("--detectors", help="Detector specs (TOML) instead of the built-in ones."),
]
brief_app = typer.Typer(
    help="The daily brief: what customers say, what employees say, the one thing to do today."
)


@brief_app.callback(invoke_without_command=True)
def brief(
    ctx: typer.Context,
    home: HomeOpt = None,
    output: Annotated[str, typer.Option("--format", "-f", help="table, json or html.")] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
    as_of: AsOfOpt = None,
    detectors: DetectorsOpt = None,
) -> None:
    """What customers say, what employees say, and the one thing to do today."""
    if ctx.invoked_subcommand:
        return
    if output not in ("table", "json", "html"):
        raise typer.BadParameter("expected table, json or html", param_hint="--format")
    err = make_console(stderr=True)
    with client.open(home) as cx, err.status("reading the store…") as status:
        v = cx.voice(progress=status.update)
        b = clean(cx.brief(v, as_of=as_of, detectors=detectors))  # rendered as its document
    if output == "json":
        if out:
            import json

            out.write_text(json.dumps(clean(b), indent=2, ensure_ascii=False))
        else:
            emit_json(make_console(), b)
        return
    if output == "html":
        page = render_html(b)
        if out:
            out.write_text(page, encoding="utf-8")
        else:
            make_console().out(page, highlight=False)
        return
    con = make_console()
    con.print(f"[bold]Daily brief[/] as of {b['as_of'][:16]}", highlight=False)
    c, e = b["customers"], b["employees"]
    table(con, "1. What customers are saying: this week (last 5 weeks)", _scores(c["scores"]))
    if c["topics"]:
        table(
            con,
            "Topics of the last 28 days",
            pd.DataFrame(c["topics"]),
            ["label", "texts", "negative_share", "example"],
            percent=["negative_share"],
        )
    for r in c["emerging"]:
        con.print(f"emerging: {r['label']} ({r['kind']}, {r['lift']:.1f}x, q {r['q']:.3f})")
    if (c.get("sentiment") or {}).get("why"):
        con.print(f"Sentiment: {c['sentiment']['why']}", highlight=False)
    employees = _scores(e["scores"], "last 4 weeks", "last 8 weeks")
    table(con, "2. What employees are saying: the last 4 weeks (last 8 weeks)", employees)
    if e["subjects"]:
        table(
            con,
            "What employees are most negative about",
            pd.DataFrame(e["subjects"]),
            percent=["negative_share"],
        )
    for text in e["latest_comments"]:
        con.print(f"  “{text}”", highlight=False)
    _at_risk(con, b.get("at_risk") or {})
    one = b["one_thing"]
    if one is None:
        con.print("3. Nothing stands out today.")
        return
    con.print(
        f"\n[bold]3. The one thing to do today:[/] {one['action']}\n   {one['title']} — "
        f"{_customers(one['customers'])}, {one['revenue']:,.2f} {b.get('currency', '')} in orders"
        + (f"; cases {', '.join(one['case_ids'][:10])}" if one["case_ids"] else "")
        + f"; customers {', '.join(one['customer_ids'][:10])}…",
        highlight=False,
    )
    table(
        con,
        "Ranked candidates (reach = control x (customers + revenue / average order))",
        _candidates(b["candidates"]),
    )
    if b.get("left_out"):
        con.print(
            f"Left out: {len(b['left_out'])} systemic failure(s) with nothing left to do "
            "(history, or everyone told); `--format json` lists them (`left_out`).",
            highlight=False,
        )
    if b["actions"]:
        table(con, "Actions taken, and the items' figures then and now", _actions(b["actions"]))
    worst = b.get("worst_stage")  # journeys (docs/journeys.md)
    if worst:
        con.print(
            f"Worst journey stage this week: {worst['stage']} ({worst['low_scores']} of "
            f"{worst['scores']} scores low, {worst['low_share']:.0%}; their customers: "
            f"worst_stage.customer_ids in --format json)",
            highlight=False,
        )
    con.print(b["method"], highlight=False)


@brief_app.command()
def act(
    key: Annotated[str, typer.Argument(help="The item's key (the brief's `key` column).")],
    note: Annotated[str, typer.Option("--note", help="What was done.")],
    actor: Annotated[str, typer.Option("--actor", envvar="CXLOOP_ACTOR", help="Who did it.")] = "",
    home: HomeOpt = None,
    output: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    as_of: AsOfOpt = None,
    detectors: DetectorsOpt = None,
) -> None:
    """Record what was done about a brief item; later briefs rank it below the others until
    its figures change, and show its figures then and now."""
    err = make_console(stderr=True)
    with client.open(home) as cx, err.status("reading the store…") as status:
        v = cx.voice(progress=status.update)
        action = cx.brief_act(key, note, actor, voice=v, as_of=as_of, detectors=detectors)
    if output == "json":
        emit_json(make_console(), action)
        return
    make_console().print(
        f"Recorded action {action.action_id} on {action.item_key} by {action.actor}: "
        f"{action.note} (then {action.before.customers} customers).",
        highlight=False,
    )


def _candidates(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The ranked items; a systemic failure's stage (warn / recover) beside its kind, and a
    mark on those acted on whose figures have not changed since."""
    out = []
    for c in rows:
        acted = c.get("acted")
        out.append(
            {
                "reach": c["reach"],
                "key": c["key"],
                "kind": c["kind"] + (f" ({c['stage']})" if c.get("stage") else ""),
                "title": c["title"],
                "customers": c["customers"],
                "revenue": c["revenue"],
                "control": c["control"],
                "acted on": ""
                if not acted
                else ("figures changed" if acted["figures_changed"] else "yes, unchanged"),
            }
        )
    return pd.DataFrame(out)


def _actions(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "acted_at": a["acted_at"][:16],
                "item": a["title"][:60],
                "note": a["note"],
                "by": a["actor"],
                "customers then": a["before"]["customers"],
                "customers now": a["now"]["customers"] if a["now"] else "not on the list now",
            }
            for a in rows
        ]
    )


def _customers(n: int) -> str:
    return f"{n:,} customer" + ("" if n == 1 else "s")


def _scores(
    rows: list[dict[str, Any]], now: str = "this week", then: str = "last 5 weeks"
) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame({"headline": ["no answers in these windows"]})
    df[now] = [
        f"{r.value:.1f} ({r.ci_low:.1f} to {r.ci_high:.1f}), n {r.n}"
        if r.n
        else f"no answers (last {str(getattr(r, 'last_answer', '') or '?')[:10]})"
        for r in df.itertuples()
    ]
    df[then] = [
        ""
        if pd.isna(r.last_5_weeks)
        else f"{r.last_5_weeks:.1f}, n {r.last_5_weeks_n}"
        if "last_5_weeks_n" in df and not pd.isna(r.last_5_weeks_n)
        else f"{r.last_5_weeks:.1f}"
        for r in df.itertuples()
    ]
    return df[["headline", now, then]]


def _table_html(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_num(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bars(rows: list[dict[str, Any]], label: str, value: str, scale: float) -> str:
    """A horizontal bar chart in inline SVG (no script, no external assets)."""
    if not rows:
        return ""
    height = 22 * len(rows) + 4
    parts = []
    for i, r in enumerate(rows):
        width = max(2.0, 380 * float(r[value]) / scale) if scale else 2.0
        y = 4 + 22 * i
        parts.append(
            f'<text x="0" y="{y + 13}" class="l">{html.escape(str(r[label])[:48])}</text>'
            f'<rect x="300" y="{y}" width="{width:.1f}" height="16" class="b"/>'
            f'<text x="{305 + width:.1f}" y="{y + 13}" class="v">{_num(r[value])}</text>'
        )
    return (
        f'<svg class="chart" width="760" height="{height}" role="img" '
        f'aria-label="{html.escape(value)} by {html.escape(label)}">{"".join(parts)}</svg>'
    )


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;
color:#1d2330}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid
#ccd;padding-bottom:.2rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e6ee;vertical-align:top}
.one{background:#fff6e0;border:1px solid #f0c040;padding:.8rem 1rem;border-radius:6px}
.chart .b{fill:#3b6fd4}.chart .l,.chart .v{font-size:12px;fill:#1d2330}.ids{font-size:12px;
color:#556}q{font-style:italic}
"""


def render_html(b: dict[str, Any]) -> str:
    """One self-contained page: no script, no external asset, charts in inline SVG."""
    b = clean(b)
    c, e, one = b["customers"], b["employees"], b["one_thing"]
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>cxloop daily brief {esc(b['as_of'][:10])}</title><style>{STYLE}</style>",
        f"</head><body><h1>Daily brief — {esc(b['as_of'][:16].replace('T', ' '))}</h1>",
    ]
    if one:
        ids = ", ".join(one["case_ids"][:20] or one["customer_ids"][:20])
        parts.append(
            f"<div class='one'><strong>The one thing to do today:</strong> "
            f"{esc(one['action'])}<br>{esc(one['title'])} — {_customers(one['customers'])}, "
            f"{one['revenue']:,.2f} {esc(b.get('currency', ''))} in orders."
            f"<div class='ids'>{esc(ids)}</div></div>"
        )
    parts.append("<h2>1. What customers are saying</h2>")
    parts.append(
        _table_html(c["scores"], ["headline", "n", "value", "ci_low", "ci_high", "last_5_weeks"])
    )
    parts.append(
        _bars(c["topics"], "label", "texts", max([t["texts"] for t in c["topics"]] or [1]))
    )
    parts.append(_table_html(c["topics"], ["label", "texts", "negative_share", "example"]))
    if c["emerging"]:
        parts.append(
            "<p>Emerging: "
            + "; ".join(
                f"{esc(r['label'])} ({esc(r['kind'])}, {r['lift']:.1f}x)" for r in c["emerging"]
            )
            + "</p>"
        )
    parts.append("<h2>2. What employees are saying</h2>")
    parts.append(
        _table_html(e["scores"], ["headline", "n", "value", "ci_low", "ci_high", "last_5_weeks"])
    )
    parts.append(_bars(e["subjects"], "title", "negative_share", 1.0))
    parts.append(_table_html(e["subjects"], ["title", "comments", "negative_share", "verdict"]))
    parts.append("".join(f"<p><q>{esc(t)}</q></p>" for t in e["latest_comments"]))
    parts.append("<h2>3. Ranked: what to do</h2>")
    top = max([r["reach"] for r in b["candidates"]] or [1])
    parts.append(_bars(b["candidates"][:8], "title", "reach", top))
    parts.append(
        _table_html(
            b["candidates"],
            ["reach", "kind", "stage", "title", "action", "customers", "revenue", "control"],
        )
    )
    if b["actions"]:
        parts.append("<h2>Actions taken, then and now</h2>")
        parts.append(
            _table_html(
                _actions(b["actions"]).to_dict(orient="records"),
                ["acted_at", "item", "note", "by", "customers then", "customers now"],
            )
        )
    parts.append(f"<p class='ids'>{esc(b['method'])}</p></body></html>")
    return "\n".join(parts)


def _at_risk(con: Any, r: dict[str, Any]) -> None:
    """Outcomes (issue 19): revenue at risk and the customers worth a call today."""
    if "revenue_at_risk" not in r:
        con.print(f"Revenue at risk: {r.get('note', '')}", highlight=False)
        return
    con.print(
        f"\n[bold]Revenue at risk[/] (no purchase in {r['horizon_days']:g} days; scored "
        f"{r['as_of'][:10]}, ROC-AUC {r['roc_auc']:.2f}): {r['revenue_at_risk']:,.2f} over "
        f"{r['customers']:,} customers; {r['at_or_above_call_risk']:,} at risk "
        f"{r['call_risk']:.0%} or more. {r['note']}",
        highlight=False,
    )
    if r["calls"]:
        table(con, "Worth a call today", pd.DataFrame(r["calls"]), percent=["risk"])
