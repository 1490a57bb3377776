"""The brief's systemic-failure items: what can still be done about each incident as of the
brief's date (warn, recover, or nothing), with its customers counted by what they already
did (told, complained, reviewed, not yet heard from). See docs/brief.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.analytics.incidents import VOICE_EVENTS
from cxloop.domain.brief import Audience, Horizons, Item, Stage, stage
from cxloop.domain.incidents import Incident
from cxloop.services.incidents import detect as detection
from cxloop.services.incidents import outreach as outreach_service
from cxloop.services.incidents.outreach import told_elsewhere
from cxloop.workspace.workspace import Workspace

#: How much of a failure of this kind the organization controls (1 = entirely its own).
CONTROL = {"billing_deviation": 1.0, "contact_spike": 1.0, "promise_breaks": 1.0}
PARTNER_DIMENSIONS = ("carrier", "region")
RECOVER_WEIGHT = 0.5  # recovering after the fact is worth half of warning in time
MAX_IDS = 50


def horizons(ws: Workspace) -> Horizons:
    s = ws.settings
    return Horizons(s.brief_warn_within, s.brief_recover_within)


def _reviewed(ws: Workspace, cohort: pd.DataFrame, end: datetime) -> set[str]:
    """Customers of the cohort who left a review or survey score about one of its refs."""
    if cohort.empty:
        return set()
    e = ws.events()
    found = e.filter(
        e.event_type.isin(list(VOICE_EVENTS))
        & e.customer_id.isin(sorted(set(cohort.customer_id)))
        & e.ref.isin(sorted({str(r) for r in cohort.ref}))
        & (e.ts <= end)
    )
    return set(found.select("customer_id").execute().customer_id)


def audience(
    ws: Workspace, inc: Incident, cohort: pd.DataFrame, end: datetime
) -> tuple[Audience, dict[str, str]]:
    """The cohort's customers counted once each, and who is in which group."""
    sent = {
        r["customer_id"]
        for r in outreach_service.send_status(ws, inc.incident_id)
        if r["status"] == "sent"
    }
    elsewhere = {c for c, ref in told_elsewhere(ws, inc.incident_id) if ref in set(cohort.ref)}
    low_at = pd.to_datetime(cohort["low_review_at"])
    low = cohort["low_review"].astype(bool) & (low_at <= pd.Timestamp(end))
    by = cohort.assign(low=low).groupby("customer_id")
    complained, lows = by["complained"].any(), by["low"].any()
    reviewed = _reviewed(ws, cohort, end)
    group: dict[str, str] = {}
    for c in sorted(by.groups):
        if c in sent or c in elsewhere:
            group[c] = "told"
        elif complained[c] or lows[c]:
            group[c] = "low_review" if lows[c] else "complained"
        else:
            group[c] = "reviewed" if c in reviewed else "silent"
    counts = pd.Series(list(group.values())).value_counts()
    n = {k: int(counts.get(k, 0)) for k in ("told", "complained", "low_review", "reviewed")}
    return Audience(
        told=n["told"],
        complained=n["complained"] + n["low_review"],
        low_review=n["low_review"],
        reviewed=n["reviewed"],
        silent=int(counts.get("silent", 0)),
    ), group


def _n(count: int, what: str) -> str:
    return f"{count} {what}" + ("" if count == 1 else "s")


def _action(inc: Incident, st: Stage, a: Audience, days: int, h: Horizons) -> str:
    said = (
        f"{a.complained} already complained ({a.low_review} with a low score), "
        f"{a.reviewed} left a review"
    )
    if st is Stage.WARN:
        return (
            f"tell the {_n(a.silent, 'customer')} not yet heard from before they call "
            f"(`cxloop outreach send {inc.incident_id}` notifies all {a.untold} not yet told); "
            f"{said}: answer them too; then fix the cause"
        )
    if days > h.warn_within.days:
        why = f"the failure ended {days} days ago, too late to warn"
    else:
        why = "everyone it touched has been in touch already, no one is left to warn"
    return (
        f"recover: {why}; apologise and make good to the {_n(a.untold, 'customer')} not yet "
        f"told ({said}, {a.silent} said nothing; `cxloop outreach preview {inc.incident_id}`), "
        "and check the cause is fixed"
    )


def _item(
    inc: Incident,
    cohort: pd.DataFrame,
    values: pd.Series,
    end: datetime,
    h: Horizons,
    ws: Workspace,
) -> Item | str:
    """The incident's item, or why there is none today."""
    a, group = audience(ws, inc, cohort, end)
    age = end - inc.window_end
    st = stage(age, a, h)
    days = age // timedelta(days=1)
    if st is None:
        if a.untold == 0:
            return "every customer was told already"
        return (
            f"its window ended {days} days before the brief, past the recovery horizon "
            f"({h.recover_within.days} days): history, not a thing to do today"
        )
    wanted = {"silent"} if st is Stage.WARN else {"complained", "low_review", "reviewed", "silent"}
    customers = sorted(c for c, g in group.items() if g in wanted)
    refs = cohort.loc[cohort.customer_id.isin(customers), "ref"].unique()
    control = CONTROL.get(inc.kind, 1.0)
    if any(d in inc.dimension for d in PARTNER_DIMENSIONS):
        control = 0.5
    if st is Stage.RECOVER:
        control *= RECOVER_WEIGHT
    return Item(
        key=inc.incident_id,
        kind="systemic failure",
        title=inc.summary,
        action=_action(inc, st, a, days, h),
        customers=len(customers),
        revenue=float(values.reindex(refs).sum()),
        control=control,
        evidence={
            "method": inc.method,
            "rate": inc.rate,
            "baseline_rate": inc.baseline_rate,
            "q_value": inc.q_value,
            "window_end": inc.window_end.isoformat(),
            "days_since_window_end": days,
        },
        customer_ids=customers[:MAX_IDS],
        stage=st.value,
        audience=a.as_dict(),
    )


def incident_items(
    ws: Workspace, values: pd.Series, end: datetime, detectors: Path | None = None
) -> tuple[list[Item], list[dict[str, Any]]]:
    """The items of the incidents the detectors find as of ``end``, and those left out (with
    why)."""
    h = horizons(ws)
    items: list[Item] = []
    left_out: list[dict[str, Any]] = []
    for inc in outreach_service.detect_incidents(ws, end, detectors):
        cohort = detection.cohort(ws, inc)
        got = _item(inc, cohort, values, end, h, ws)
        if isinstance(got, Item):
            items.append(got)
        else:
            left_out.append({"key": inc.incident_id, "title": inc.summary, "why": got})
    return items, left_out
