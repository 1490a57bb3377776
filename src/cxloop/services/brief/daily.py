"""The daily brief (C8): seed 003's three questions, answered from the store with evidence.

1. What are customers saying? Scores this week against the four weeks before, the topics
   of the last 28 days, the issues emerging.
2. What are employees saying? eNPS / pulse over the same windows, the subjects employees
   are negative about, their latest comments.
3. What is the one thing to do today? Every candidate — a systemic failure (outreach
   detectors), a policy or practice both sides say hurts (voice compare), cases past
   their SLA, an emerging topic — is ranked by **reach** = control x (customers affected +
   revenue affected / the average order value), where control is 1 for what the
   organization runs itself (its policies, billing, its teams, its product batches), 0.5
   for what it shares with a partner (a carrier, a region). Each item lists the customers
   and cases behind it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.domain.brief import Item, rank
from cxloop.errors import ConfigError, NotFoundError
from cxloop.services.brief.at_risk import at_risk
from cxloop.services.brief.incidents import MAX_IDS, incident_items
from cxloop.services.brief.orders import orders_of, text_orders
from cxloop.services.voice.analysis import Voice
from cxloop.services.voice.insights import emerging, side_by_side, subject_texts
from cxloop.store.brief import BriefActions
from cxloop.store.cases import CaseStore
from cxloop.workspace.workspace import Workspace

WEEK, BASELINE, RECENT = timedelta(days=7), timedelta(days=28), timedelta(days=90)
#: How much of a failure of this kind the organization controls (1 = entirely its own).
CONTROL = {"subject": 1.0, "cases_overdue": 1.0, "emerging": 0.75}
METHOD = (
    "Candidates: as of the brief's date, systemic failures (outreach detectors), policies and "
    "practices customers (and employees) say hurt (voice compare), cases past their SLA, "
    "emerging topics. A systemic failure whose window ended within {warn} days is one to warn "
    "about: it counts the customers not yet told and not yet heard from (no contact, no "
    "review); one that ended within {recover} days (or whose customers have all been in "
    "touch) is one to recover from: it counts every customer not yet told, at half weight; "
    "older ones, and those whose whole cohort was told, are left out. Reach = control x "
    "(customers + revenue of their orders / average order value); control is 1 for what the "
    "organization runs itself, 0.5 for what it shares with a partner (a carrier, a region), "
    "0.75 for an emerging topic whose cause is not known yet. An item someone acted on goes "
    "below the others until its figures change. A subject counts the customers who said "
    "something negative about it in the last 90 days."
)


def _scores_window(
    v: Voice, who: str, end: pd.Timestamp, window: timedelta = WEEK
) -> list[dict[str, Any]]:
    """Scores of the ``window`` up to ``end``, each beside the same window plus the four
    weeks before it (customers: a week; employees, who answer a monthly pulse: four weeks).
    A metric answered in the longer window but not in the latest one keeps its row (n 0, no
    value) with the date of its last answer: the windows end at the store's clock, which a
    single late event of any kind moves past the last answer."""
    until = end.to_pydatetime()
    recent = v.scores(voice=who, since=(end - window).to_pydatetime(), until=until)
    before = v.scores(voice=who, since=(end - window - BASELINE).to_pydatetime(), until=until)
    rows: list[dict[str, Any]] = []
    if before.empty:
        return rows
    for b in before.itertuples():
        r = recent[recent["metric"] == b.metric] if len(recent) else recent
        now = r.iloc[0] if len(r) else None
        rows.append(
            {
                "metric": b.metric,
                "headline": b.headline,
                "n": int(now["n"]) if now is not None else 0,
                "value": float(now["value"]) if now is not None else None,
                "ci_low": float(now["ci_low"]) if now is not None else None,
                "ci_high": float(now["ci_high"]) if now is not None else None,
                "last_5_weeks": float(b.value),
                "last_5_weeks_n": int(b.n),
                "last_answer": _last_answer(v, who, str(b.metric), end),
            }
        )
    return rows


def _sentiment_used(v: Voice) -> dict[str, Any]:
    """Which sentiment model scored the texts (negative shares, complaints) and why."""
    if v.customer_texts.empty and v.frame["text"].notna().sum() == 0:
        return {"used": "none", "why": "no texts"}
    v.sentiment  # noqa: B018 (computed once: it decides the choice)
    if v.sentiment_choice:
        return dict(v.sentiment_choice)
    return {"used": v.sentiment_mode, "why": f"{v.sentiment_mode}: chosen (--sentiment)"}


def _last_answer(v: Voice, who: str, metric: str, end: pd.Timestamp) -> str | None:
    f = v.frame
    ts = f.loc[
        (f["voice"] == who) & (f["metric"] == metric) & f["score"].notna() & (f["ts"] <= end),
        "ts",
    ]
    return None if ts.empty else pd.Timestamp(ts.max()).isoformat(timespec="minutes")


def _subject_items(v: Voice, values: pd.Series, sides: pd.DataFrame) -> list[Item]:
    items = []
    hurting = sides[
        sides["verdict"].str.startswith(("both say", "customers feel"))
        & (sides["customers_ids"].map(len) > 0)
    ]
    for row in hurting.itertuples():
        items.append(
            Item(
                key=f"subject:{row.subject}",
                kind=f"{row.kind} customers complain about",
                title=f"{row.title} ({row.department}): {row.verdict}",
                action=f"review the {row.kind} '{row.title}' with {row.department}",
                customers=len(row.customers_ids),
                revenue=float(values.reindex(row.customers_refs).sum()),
                control=CONTROL["subject"],
                evidence={
                    "customers_negative_share": row.customers_negative_share,
                    "employees_negative_share": row.employees_negative_share,
                    "customers_examples": row.customers_examples,
                    "employees_examples": row.employees_examples,
                },
                customer_ids=list(row.customers_ids)[:MAX_IDS],
            )
        )
    return items


def _case_items(ws: Workspace, values: pd.Series, now: datetime) -> list[Item]:
    cases = pd.DataFrame(CaseStore(ws.state).cases())
    if cases.empty:
        return []
    active = cases[cases["state"].isin(["open", "in_progress"])]
    late = active[pd.to_datetime(active["sla_due_at"], utc=True) < pd.Timestamp(now, tz="UTC")]
    items = []
    for dept, part in late.groupby("department"):
        customers = sorted(part["customer_id"].unique())
        refs = part["subject"]  # a case's subject is its order (or contact) ref
        items.append(
            Item(
                key=f"cases:overdue:{dept}",
                kind="cases past their SLA",
                title=f"{len(part)} {dept} cases are past their SLA",
                action=f"work the overdue {dept} cases (`cxloop cases list --department {dept}`)",
                customers=len(customers),
                revenue=float(values.reindex(refs.unique()).sum()),
                control=CONTROL["cases_overdue"],
                evidence={"severity": part["severity"].value_counts().to_dict()},
                customer_ids=customers[:MAX_IDS],
                case_ids=sorted(part["case_id"])[:MAX_IDS],
            )
        )
    return items


def _emerging_items(
    found: pd.DataFrame, v: Voice, values: pd.Series, end: pd.Timestamp
) -> list[Item]:
    if found.empty or "emerging" not in found:
        return []
    _, topic = v.topic_model
    rows = v.customer_texts.assign(topic=topic)
    start = pd.Timestamp(found.attrs["latest"]["from"])
    items = []
    for r in found[found["emerging"]].itertuples():
        part = rows[(rows["topic"] == r.topic) & (rows["ts"] > start) & (rows["ts"] <= end)]
        customers = sorted(part["customer_id"].unique())
        items.append(
            Item(
                key=f"topic:{r.label}",
                kind="emerging issue",
                title=f"'{r.label}' rose in {r.kind} ({r.lift:.1f}x, q {r.q:.3f})",
                action="find the cause behind the rising topic (read `cxloop voice emerging`)",
                customers=len(customers),
                revenue=float(values.reindex(part["ref"].dropna().unique()).sum()),
                control=CONTROL["emerging"],
                evidence={"examples": r.examples},
                customer_ids=customers[:MAX_IDS],
            )
        )
    return items


def _with_refs(
    v: Voice, since: pd.Timestamp, until: pd.Timestamp, orders: pd.DataFrame
) -> pd.DataFrame:
    """``voice compare``'s rows, with the customers (and their orders) who said something
    negative about each subject between ``since`` and ``until``."""
    subjects, texts = subject_texts(v)
    sides = side_by_side(subjects, texts)
    said = texts[
        (texts["voice"] == "customer")
        & (texts["sentiment"] == "negative")
        & (texts["ts"] > since)
        & (texts["ts"] <= until)
    ]
    said = said.assign(ref=text_orders(said, orders))
    by = said.groupby("subject")
    refs = [
        by.get_group(s)["ref"].dropna().unique().tolist() if s in by.groups else []
        for s in sides["subject"]
    ]
    ids = [
        sorted(by.get_group(s)["customer_id"].unique()) if s in by.groups else []
        for s in sides["subject"]
    ]
    return sides.assign(customers_refs=refs, customers_ids=ids)


def _effects(ws: Workspace, items: list[Item]) -> list[dict[str, Any]]:
    """Every recorded action with its item's figures then and now (None: the item is no
    longer a candidate — told, fixed, or no longer measurable)."""
    now = {i.key: i for i in items}
    out = []
    for a in BriefActions(ws.state).all():
        item = now.get(a["item_key"])
        current = (
            {"customers": item.customers, "revenue": item.revenue, "reach": item.reach}
            if item
            else None
        )
        change = current["customers"] - a["before"]["customers"] if current else None
        out.append(a | {"now": current, "customers_change": change})
    return out


def act(
    ws: Workspace,
    key: str,
    note: str,
    actor: str,
    v: Voice | None = None,
    current: dict[str, Any] | None = None,
    *,
    as_of: datetime | None = None,
    detectors: Path | None = None,
) -> dict[str, Any]:
    """Record what was done about the brief item ``key`` (with its figures now): later
    briefs rank it below the others until its figures change. ``current``: the brief when
    the caller has it already (the server's cache); else the brief as of ``as_of``."""
    if not note.strip():
        raise ConfigError("say what was done (--note)")
    if not actor.strip():
        raise ConfigError("say who did it (--actor or CXLOOP_ACTOR)")
    b = current if current is not None else brief(ws, v, as_of=as_of, detectors=detectors)
    item = next((c for c in b["candidates"] if c["key"] == key), None)
    if item is None:
        keys = ", ".join(c["key"] for c in b["candidates"][:10])
        raise NotFoundError(f"no brief item {key!r} today (items: {keys})")
    acted = ws.clock.now().isoformat(timespec="seconds")
    return BriefActions(ws.state).record(item, note.strip(), actor.strip(), acted)


def brief_date(ws: Workspace, as_of: datetime | None = None) -> pd.Timestamp:
    """The brief's "today": ``as_of`` (UTC; a naive time is taken as UTC), else the store's
    clock (docs/settings.md: by default the latest event loaded from a source)."""
    if as_of is None:
        return pd.Timestamp(ws.clock.now())
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    return pd.Timestamp(as_of)


def _topics(v: Voice, end: pd.Timestamp) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """The topics of the 28 days up to ``end`` (most said and most negative first), and the
    emerging ones."""
    texts = v.customer_texts
    if len(texts) < 3:  # not enough to find topics
        return [], pd.DataFrame()
    topics = v.topics()
    texts = texts.assign(topic=v.topic_model[1]).join(v.sentiment[["sentiment"]])
    latest = texts[(texts["ts"] > end - BASELINE) & (texts["ts"] <= end)]
    top = []
    for t in topics.itertuples():
        part = latest[latest["topic"] == t.topic]
        if len(part):
            top.append(
                {
                    "label": t.label,
                    "texts": len(part),
                    "negative_share": float((part["sentiment"] == "negative").mean()),
                    "example": t.examples[0] if t.examples else "",
                }
            )
    top.sort(key=lambda r: -r["texts"] * (0.5 + r["negative_share"]))
    return top, emerging(v, as_of=end.to_pydatetime())


def brief(
    ws: Workspace,
    v: Voice | None = None,
    *,
    as_of: datetime | None = None,
    detectors: Path | None = None,
) -> dict[str, Any]:
    """The three answers as of ``as_of`` (default: the store's clock), with the ranked
    candidates for the one thing to do that day; ``detectors``: a detectors file instead of
    the built-in one."""
    v = v or Voice(ws)
    end = brief_date(ws, as_of)
    orders = orders_of(ws)
    values = orders.groupby("ref")["amount"].sum()
    aov = float(values.mean()) if len(values) else 1.0
    top, found = _topics(v, end)
    sides = _with_refs(v, end - RECENT, end, orders)
    heard = v.frame[(v.frame["voice"] == "employee") & v.frame["text"].notna()]
    staff = heard[heard["ts"] <= end]
    failures, left_out = incident_items(ws, values, end.to_pydatetime(), detectors)
    items = (
        failures
        + _subject_items(v, values, sides)
        + _case_items(ws, values, end.to_pydatetime())
        + _emerging_items(found, v, values, end)
    )
    for item in items:
        item.reach = item.control * (item.customers + item.revenue / aov)
    items = rank(items, BriefActions(ws.state).all())
    h = ws.settings
    return {
        "as_of": end.isoformat(),
        "currency": ws.settings.currency,
        "method": METHOD.format(warn=h.brief_warn_within.days, recover=h.brief_recover_within.days),
        "customers": {
            "scores": _scores_window(v, "customer", end),
            "topics": top[:5],
            "emerging": [
                {"label": r.label, "kind": r.kind, "lift": r.lift, "q": r.q}
                for r in found[found["emerging"]].itertuples()
            ]
            if "emerging" in found
            else [],
            "sentiment": _sentiment_used(v),
        },
        "employees": {
            "scores": _scores_window(v, "employee", end, BASELINE),
            "subjects": [
                {
                    "title": r.title,
                    "negative_share": r.employees_negative_share,
                    "comments": r.employees_texts,
                    "verdict": r.verdict,
                }
                for r in sides.sort_values("employees_negative_share", ascending=False)
                .head(5)
                .itertuples()
                if r.employees_texts
            ],
            "latest_comments": staff.sort_values("ts", ascending=False)["text"].head(5).tolist(),
        },
        "one_thing": asdict(items[0]) if items else None,
        "actions": _effects(ws, items),
        "candidates": [asdict(i) for i in items],
        "left_out": left_out,
        # -- journeys (docs/journeys.md): the stage whose scores were worst this week
        "worst_stage": _worst_stage(ws, end),
        "at_risk": at_risk(ws),  # outcomes (issue 19): revenue at risk, calls worth making
    }


def _worst_stage(ws: Workspace, end: pd.Timestamp) -> dict[str, Any] | None:
    from cxloop.services.journeys.stages import Journeys

    with Journeys(ws, end.to_pydatetime()) as j:
        return j.worst_stage()
