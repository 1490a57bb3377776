"""Effort per issue, not per ticket: the per-issue rows (computed on the engine), their
distributions by department, channel, team and month, and the drill-down to the issues
and customers behind any figure (docs/effort.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxloop.analytics.effort import issue_rows
from cxloop.domain.cases import first_contact_resolved
from cxloop.domain.effort import DIMENSIONS, FLAGS, WAIT_PARTS, EffortRules, effort_rules_from_dict
from cxloop.errors import ConfigError
from cxloop.store.cases import CaseStore
from cxloop.workspace.config import read_toml
from cxloop.workspace.workspace import Workspace

#: The per-issue columns, in order.
ISSUE_COLUMNS = (
    "issue_id",
    "customer_id",
    "subject_kind",
    "subject",
    "started_at",
    "ended_at",
    "month",
    "department",
    "channel",
    "team",
    "contacts",
    "channels",
    "replies",
    "transfers",
    "hold_seconds",
    "queue_seconds",
    "approvals",
    "repeat_contacts",
    "reopens",
    "first_reply_hours",
    "elapsed_hours",
    *WAIT_PARTS,
    *FLAGS,
)
#: The figures whose distribution (median, p90) each group reports.
MEASURES = (
    "contacts",
    "replies",
    "transfers",
    "hold_seconds",
    "first_reply_hours",
    "elapsed_hours",
    *WAIT_PARTS,
)


def load_effort_rules(ws: Workspace) -> EffortRules:
    """The store's effort rules (the ``effort`` setting) or the built-in ones."""
    data, where = read_toml(ws.settings.effort, "effort.toml", "effort")
    return effort_rules_from_dict(data, where)


def _epoch(values: pd.Series) -> pd.Series:
    t = pd.to_datetime(values)
    return (t - pd.Timestamp(0)).dt.total_seconds()


def approvals_frame(ws: Workspace, as_of: datetime) -> pd.DataFrame:
    """Approvals asked by ``as_of`` with their case's customer and subject; a pending one
    (or one decided later) waits until ``as_of``. Times as epoch seconds."""
    store = CaseStore(ws.state)
    approvals = pd.DataFrame(store.approvals())
    if approvals.empty:
        return approvals
    cases = pd.DataFrame(store.cases())[["case_id", "customer_id", "subject"]]
    a = approvals.merge(cases, on="case_id")
    now = pd.Timestamp(as_of)
    asked = pd.to_datetime(a.requested_at)
    a = a[asked <= now]
    decided = pd.to_datetime(a.decided_at).where(lambda d: d.notna() & (d <= now), now)
    return pd.DataFrame(
        {
            "customer_id": a.customer_id.astype(str),
            "subject": a.subject.astype(str),
            "approval_id": "approval:" + a.approval_id.astype(str),
            "asked": _epoch(a.requested_at),
            "decided": _epoch(decided),
        }
    )


def issues_expr(ws: Workspace, rules: EffortRules | None = None) -> ir.Table:
    """The per-issue rows as an Ibis expression on the store's engine (as of its clock)."""
    as_of = ws.clock.now()
    frame = approvals_frame(ws, as_of)
    approvals = None if frame.empty else ibis.memtable(frame)
    return issue_rows(ws.events(), rules or load_effort_rules(ws), as_of, approvals)


def _unique_ids(df: pd.DataFrame) -> pd.Series:
    """The first contact's case ref; a second issue starting in the same case gets ``~2``."""
    nth = df.groupby("issue_id").cumcount() + 1
    return df.issue_id.where(nth == 1, df.issue_id + "~" + nth.astype(str))


def _execute(ws: Workspace, rules: EffortRules | None) -> pd.DataFrame:
    """The per-issue rows, with the contacts' issue keys computed once on the engine."""
    as_of = ws.clock.now()
    frame = approvals_frame(ws, as_of)
    approvals = None if frame.empty else ibis.memtable(frame)
    cached: list[ir.Table] = []

    def keep(t: ir.Table) -> ir.Table:
        cached.append(ws.cache(t))
        return cached[-1]

    rules = rules or load_effort_rules(ws)
    try:
        expr = issue_rows(ws.events(), rules, as_of, approvals, keep)
        return ws.ibis.execute(expr)
    finally:
        for t in cached:
            t.release()


def issues(ws: Workspace, rules: EffortRules | None = None) -> pd.DataFrame:
    """One row per issue (:data:`ISSUE_COLUMNS`), oldest first."""
    df = _execute(ws, rules)
    if df.empty:
        return pd.DataFrame(columns=list(ISSUE_COLUMNS))
    df["started_at"] = pd.to_datetime(df.started_at).astype("datetime64[us]")
    df = df.sort_values(["started_at", "ik"], kind="stable").reset_index(drop=True)
    df["issue_id"] = _unique_ids(df)
    df["ended_at"] = pd.to_datetime((df.ended_t * 1000).round(), unit="ms").astype("datetime64[us]")
    df["month"] = df.started_at.dt.strftime("%Y-%m")
    for col in ("contacts", "channels", "replies", "transfers", "approvals"):
        df[col] = df[col].astype("int64")
    for col in ("repeat_contacts", "reopens"):
        df[col] = df[col].astype("int64")
    df["repeat"] = df.repeat_contacts > 0
    df["reopened"] = df.reopens > 0
    df["transferred"] = df.transfers > 0
    df["one_touch"] = (df.replies == 1) & (df.transfers == 0)
    df["first_contact_resolution"] = df.contacts.map(first_contact_resolved).astype(bool)
    for col in ("team", "department", "channel"):
        df[col] = df[col].fillna("(none)")
    return df[list(ISSUE_COLUMNS)]


def _check_dimension(by: str) -> None:
    if by not in DIMENSIONS:
        raise ConfigError(f"effort: cannot break down by {by!r}; choose {', '.join(DIMENSIONS)}")


def _group_figures(g: pd.DataFrame) -> dict[str, Any]:
    row: dict[str, Any] = {
        "issues": len(g),
        "customers": int(g.customer_id.nunique()),
        "contacts": int(g.contacts.sum()),
        "transfers": int(g.transfers.sum()),
        "approvals": int(g.approvals.sum()),
    }
    for flag in FLAGS:
        row[flag] = int(g[flag].sum())
        row[f"{flag}_rate"] = round(float(g[flag].mean()), 4)
    for m in MEASURES:
        v = g[m].dropna()
        row[f"{m}_median"] = round(float(v.median()), 4) if len(v) else None
        row[f"{m}_p90"] = round(float(v.quantile(0.9)), 4) if len(v) else None
    for m in ("elapsed_hours", *WAIT_PARTS):
        row[f"{m}_total"] = round(float(g[m].sum()), 4)
    return row


def distribution(rows: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Per value of ``by`` (department, channel, team, month; None: all issues): counts,
    rates of the yes/no figures, median and p90 of the measures, total hours by wait part."""
    if by is not None:
        _check_dimension(by)
    if rows.empty:
        return pd.DataFrame(columns=[by or "all", "issues", "customers"])
    if by is None:
        return pd.DataFrame([{"all": "all", **_group_figures(rows)}])
    out = [{by: k, **_group_figures(g)} for k, g in rows.groupby(by, sort=True)]
    return pd.DataFrame(out)


def drill(
    rows: pd.DataFrame,
    by: str | None = None,
    value: str | None = None,
    flag: str | None = None,
) -> pd.DataFrame:
    """The issues behind one figure: those with ``by`` = ``value`` and, if named, ``flag``."""
    if (by is None) != (value is None):
        raise ConfigError("effort: name both the dimension (--by) and its value (--value)")
    out = rows
    if by is not None:
        _check_dimension(by)
        out = out[out[by].astype(str) == value]
    if flag is not None:
        if flag not in FLAGS:
            raise ConfigError(f"effort: unknown flag {flag!r}; choose {', '.join(FLAGS)}")
        out = out[out[flag]]
    return out.reset_index(drop=True)


def customers(issue_rows: pd.DataFrame) -> pd.DataFrame:
    """Per customer behind a set of issues: issues, contacts, hours elapsed and waited."""
    if issue_rows.empty:
        return pd.DataFrame(columns=["customer_id", "issues", "contacts", "elapsed_hours"])
    waits = ["wait_first_reply_hours", "wait_between_replies_hours", "wait_approval_hours"]
    g = issue_rows.assign(waited_hours=issue_rows[waits].sum(axis=1)).groupby("customer_id")
    out = g.agg(
        issues=("issue_id", "count"),
        contacts=("contacts", "sum"),
        transfers=("transfers", "sum"),
        elapsed_hours=("elapsed_hours", "sum"),
        waited_hours=("waited_hours", "sum"),
        first_issue=("started_at", "min"),
        last_issue=("started_at", "max"),
    ).reset_index()
    out[["elapsed_hours", "waited_hours"]] = out[["elapsed_hours", "waited_hours"]].round(4)
    return out.sort_values(["issues", "customer_id"], ascending=[False, True]).reset_index(
        drop=True
    )
