"""What each dashboard page shows, read from the services (the routes are in
:mod:`cxloop.api.pages`).

The expensive figures go through the runtime's cache, under the same keys as the REST
API where the API has them (the brief, the voice scores), so a page and an API call
share one computation. Everything a page shows goes through :func:`out` first: viewers
see personal data masked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ibis

from cxloop.api import charts
from cxloop.api.deps import out, rows
from cxloop.api.routes_insight import brief_of
from cxloop.api.runtime import Runtime
from cxloop.domain.cases import CaseState
from cxloop.domain.promises import PromiseState
from cxloop.domain.scores import SCALES, Scale
from cxloop.errors import NotFoundError
from cxloop.serialize import clean
from cxloop.services import case_reads
from cxloop.services import ledger as ledger_service
from cxloop.services import recovery as recovery_service
from cxloop.services.access import Principal
from cxloop.services.overview import incident_alerts, nps_by_month, promise_figures
from cxloop.services.timeline import TIMELINE_COLUMNS, timeline_expr
from cxloop.services.workspace import Workspace

log = logging.getLogger("cxloop.api")

PAGE_SIZE = 25
TIMELINE_LIMIT = 2000
LINKED = 20  # customers / cases linked per brief item (the rest are counted)
PROBLEM_STATES = {PromiseState.BROKEN.value, PromiseState.AT_RISK.value}


def _float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


# ---------------------------------------------------------------- the overview
# promise_figures and incident_alerts live in cxloop.services.overview (the refresh after
# an ingest computes them too); imported above under the same names.


def nps_months(rt: Runtime, ws: Workspace) -> list[dict[str, Any]]:
    """Monthly NPS with its 95% interval (the API's ``/voice/scores`` cache entry)."""
    return rt.cached(("voice_scores", "month", "nps", None), nps_by_month, ws=ws)


def overview(rt: Runtime, ws: Workspace, who: Principal) -> dict[str, Any]:
    promises = rt.cached(("dash_promises",), promise_figures, ws=ws)
    nps = nps_months(rt, ws)
    brief = out(who, brief_of(rt, ws))
    alerts = out(who, rt.cached(("dash_incidents",), incident_alerts, ws=ws))
    months, depts = promises["months"], promises["departments"]
    kept = charts.line_chart(
        [
            charts.Point(m["month"], m["rate"], m["low"], m["high"], f"{m['resolved']:,} resolved")
            for m in months
        ],
        label="Promise kept rate by month due (kept or exceeded among resolved)",
        fmt=charts.percent,
        y_max=1.0,
    )
    broken = charts.bar_chart(
        [(d["department"], float(d["broken"])) for d in depts],
        label="Broken promises by department",
        color=charts.WARN,
    )
    nps_chart = charts.line_chart(
        [
            charts.Point(
                str(r["month"])[:7], r["value"], r["ci_low"], r["ci_high"], f"n {r['n']:,}"
            )
            for r in nps
        ],
        label="NPS by month with its 95% interval",
        reference=0.0,
    )
    topics = brief["customers"]["topics"]
    topic_chart = charts.hbar_chart(
        [
            charts.Bar(
                t["label"],
                float(t["texts"]),
                f"{_float(t['negative_share']):.0%} negative",
                warn=_float(t["negative_share"]) >= 0.5,
            )
            for t in topics
        ],
        label="What customers wrote about in the last 28 days (texts per topic)",
    )
    return {
        "brief": brief,
        "alerts": alerts,
        "months": months,
        "departments": depts,
        "nps": nps,
        "charts": {"kept": kept, "broken": broken, "nps": nps_chart, "topics": topic_chart},
    }


# ---------------------------------------------------------------- the brief
def _scale(metric: str, scales: Mapping[str, Scale] | None = None) -> tuple[float, float]:
    s = (SCALES if scales is None else scales).get(metric)
    if s is None:
        return 0.0, 100.0
    if s.headline == "net":
        return -100.0, 100.0
    if s.headline == "share":
        return 0.0, 100.0
    return float(s.low), float(s.high)


def score_chart(
    scores: list[dict[str, Any]], label: str, scales: Mapping[str, Scale] | None = None
) -> str:
    intervals = []
    for s in scores:
        lo, hi = _scale(str(s.get("metric", "")), scales)
        intervals.append(
            charts.Interval(
                str(s["headline"]),
                _float(s["value"]),
                _float(s["ci_low"]),
                _float(s["ci_high"]),
                lo,
                hi,
                reference=_float(s.get("last_5_weeks")),
                reference_label="the 5 weeks before",
                note=f"n {s['n']}",
            )
        )
    return charts.interval_chart(intervals, label=label)


def slug(key: str) -> str:
    return "item-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in key)


def _linked(ids: list[str]) -> dict[str, Any]:
    return {"shown": ids[:LINKED], "more": max(0, len(ids) - LINKED), "total": len(ids)}


def brief_page(rt: Runtime, ws: Workspace, who: Principal) -> dict[str, Any]:
    b = out(who, brief_of(rt, ws))
    c, e = b["customers"], b["employees"]
    candidates = [
        cand | {"rank": i + 1, "anchor": slug(cand["key"])}
        for i, cand in enumerate(b["candidates"])
    ]
    for cand in candidates:
        cand["customers_linked"] = _linked(cand["customer_ids"])
        cand["cases_linked"] = _linked(cand["case_ids"])
    one = b["one_thing"]
    if one is not None:
        one = next((cand for cand in candidates if cand["key"] == one["key"]), None) or (
            one
            | {
                "rank": 1,
                "anchor": slug(one["key"]),
                "customers_linked": _linked(one["customer_ids"]),
                "cases_linked": _linked(one["case_ids"]),
            }
        )
    reach = charts.hbar_chart(
        [
            charts.Bar(
                f"{cand['rank']}. {cand['title']}",
                _float(cand["reach"]),
                f"{cand['customers']:,} customers",
                href="#" + cand["anchor"],
                warn=cand["rank"] == 1,
            )
            for cand in candidates[:10]
        ],
        label="Ranked: reach = control x (customers + revenue / average order)",
        label_chars=90,
        width=1120,
    )
    return {
        "b": b,
        "one": one,
        "candidates": candidates,
        "charts": {
            "customer_scores": score_chart(
                c["scores"], "Customer scores this week, 95% interval", ws.scales
            ),
            "topics": charts.hbar_chart(
                [
                    charts.Bar(
                        t["label"],
                        float(t["texts"]),
                        f"{_float(t['negative_share']):.0%} negative",
                        warn=_float(t["negative_share"]) >= 0.5,
                    )
                    for t in c["topics"]
                ],
                label="Topics of the last 28 days (texts per topic)",
            ),
            "employee_scores": score_chart(
                e["scores"], "Employee scores this week, 95% interval", ws.scales
            ),
            "subjects": charts.hbar_chart(
                [
                    charts.Bar(
                        s["title"],
                        _float(s["negative_share"]),
                        f"{s['comments']} comments",
                        warn=_float(s["negative_share"]) >= 0.5,
                    )
                    for s in e["subjects"]
                ],
                label="What employees are most negative about (share of negative comments)",
                fmt=charts.whole_percent,
                scale=1.0,
            ),
            "reach": reach,
        },
    }


# ---------------------------------------------------------------- cases
def advice(rt: Runtime, ws: Workspace, case_id: str, role: str) -> dict[str, Any] | None:
    """The recommendation for a case judged for ``role`` (None: it has nothing to go on)."""

    def compute(w: Workspace) -> dict[str, Any] | None:
        try:
            found = recovery_service.advise(w, case_id, role, rt.policy).as_dict()
        except NotFoundError:
            return None
        except Exception as exc:  # one case's failure must not take the queue down
            log.exception("no recommendation for case %s", case_id)
            return {"error": f"{type(exc).__name__}: {exc}", "lines": []}
        return clean(found)  # type: ignore[no-any-return]

    return rt.cached(("dash_advice", case_id, role), compute, ws=ws)


def _remedy(line: dict[str, Any]) -> str:
    amount = _float(line.get("amount"))
    return f"{line['remedy']} {amount:,.2f}" if amount > 0 else str(line["remedy"])


def grantable(found: dict[str, Any] | None) -> dict[str, Any]:
    """What this role may grant now, and what needs whose approval (from judged lines)."""
    if found is None or "error" in found:
        return {"now": "", "approval": [], "none": True, "error": (found or {}).get("error")}
    now = [_remedy(line) for line in found["lines"] if line["allowed"]]
    needs: dict[str, list[str]] = {}
    for line in found["lines"]:
        if not line["allowed"]:
            needs.setdefault(line["needs_role"] or "higher", []).append(_remedy(line))
    return {
        "now": ", ".join(now),
        "approval": [f"{', '.join(v)}: needs {k} approval" for k, v in needs.items()],
        "none": not found["lines"],
        "error": None,
    }


def case_queue(
    rt: Runtime,
    ws: Workspace,
    who: Principal,
    state: str | None,
    department: str | None,
    page: int,
) -> dict[str, Any]:
    everything = case_reads.list_cases(ws)
    departments = sorted({c["department"] for c in everything if c["department"]})
    found = case_reads.list_cases(ws, state=state or None, department=department or None)
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = min(page, pages)
    chosen = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    items = []
    for case in chosen:
        grant = (
            grantable(advice(rt, ws, case["case_id"], who.grant_as))
            if who.grant_as is not None
            else None
        )
        items.append(case | {"grant": grant})
    return {
        "items": out(who, items),
        "total": len(found),
        "page": page,
        "pages": pages,
        "states": [s.value for s in CaseState],
        "departments": departments,
        "counts": {s.value: sum(c["state"] == s.value for c in everything) for s in CaseState},
    }


def case_page(rt: Runtime, ws: Workspace, who: Principal, case_id: str) -> dict[str, Any]:
    detail = case_reads.case_detail(ws, case_id)
    found = advice(rt, ws, case_id, recovery_service.judged_role(who.grant_as, rt.policy))
    if found is not None and "error" not in found:
        found = recovery_service.for_caller(found, who.grant_as)
    return out(  # type: ignore[no-any-return]
        who,
        detail
        | {
            "advice": found,
            "grant": grantable(found) if who.grant_as is not None else None,
        },
    )


# ---------------------------------------------------------------- customers
def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def customer_page(ws: Workspace, who: Principal, customer_id: str) -> dict[str, Any]:
    expr = timeline_expr(ws.events(), customer_id)
    total = int(expr.count().execute())
    if total == 0:
        raise NotFoundError(f"no events for customer {customer_id!r}")
    events = rows(expr.limit(TIMELINE_LIMIT).execute()[TIMELINE_COLUMNS])
    promises = rows(ledger_service.promises_expr(ws, customer_id=customer_id).execute())
    cases = case_reads.list_cases(ws, customer_id=customer_id)
    events, promises, cases = out(who, [events, promises, cases])
    problems = {p["ref"] for p in promises if p["state"] in PROBLEM_STATES}
    marks = []
    for ev in events:
        at = _when(ev["ts"])
        if at is None:
            continue
        tip = f"{str(ev['ts'])[:16].replace('T', ' ')} {ev['event_type']}"
        tip += f" ({ev['channel']})" if ev.get("channel") else ""
        tip += f" {ev['ref']}" if ev.get("ref") else ""
        marks.append(
            charts.Mark(
                at,
                str(ev["department"] or "—"),
                tip,
                warn=bool(ev.get("ref")) and ev["ref"] in problems,
            )
        )
    states: dict[str, int] = {}
    for p in promises:
        states[p["state"]] = states.get(p["state"], 0) + 1
    return {
        "customer_id": customer_id,
        "events": events,
        "total": total,
        "shown": len(events),
        "promises": promises,
        "states": states,
        "cases": cases,
        "chart": charts.lane_chart(
            marks, label=f"Timeline of {customer_id} across departments (broken refs in orange)"
        ),
    }


def most_broken(ws: Workspace, limit: int = 25) -> list[dict[str, Any]]:
    """The customers with the most broken promises (a way into their timelines)."""
    t = ledger_service.promises_table(ws)
    broken = t.state == PromiseState.BROKEN.value
    top = (
        t.group_by("customer_id")
        .aggregate(
            promises=t.count(),
            broken=broken.sum().cast("int64"),
            last_broken_due=t.due_at.max(where=broken),
        )
        .filter(lambda r: r.broken > 0)
        .order_by([ibis.desc("broken"), "customer_id"])
        .limit(limit)
    )
    return rows(top.execute(), ())


def key_attrs(attrs: Any, limit: int = 12) -> list[tuple[str, str]]:
    """The first few attributes of an event as (name, value) text pairs."""
    if not isinstance(attrs, dict):
        return [("", str(attrs))] if attrs not in (None, "", {}) else []
    pairs = [(str(k), str(v)) for k, v in attrs.items() if v not in (None, "", [], {})]
    return pairs[:limit]


__all__ = [
    "PAGE_SIZE",
    "brief_page",
    "case_page",
    "case_queue",
    "customer_page",
    "grantable",
    "key_attrs",
    "most_broken",
    "overview",
    "promise_figures",
]
