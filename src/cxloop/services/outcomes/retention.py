"""Retention, repeat purchase and lifecycle: the reports and the customers behind them.

The counting runs engine-side (:mod:`cxloop.analytics.outcomes`); this module fills the
cohort grid, adds 95% Wilson intervals and names the periods. Everything is as of the
store's clock. docs/outcomes.md explains each figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxloop.analytics import outcomes as ox
from cxloop.domain.outcomes import PERIODS, OutcomesConfig, horizon_days, outcomes_from_dict
from cxloop.errors import ConfigError
from cxloop.services.promises.ledger import promises_table
from cxloop.workspace.config import read_toml
from cxloop.workspace.workspace import Workspace

LIFECYCLE_STATES = ("new", "returning", "resurrecting", "dormant")


def load_outcomes(ws: Workspace) -> OutcomesConfig:
    """The outcomes file (setting ``outcomes``) or the built-in commerce defaults."""
    data, where = read_toml(ws.settings.outcomes, "outcomes.toml", "outcomes")
    try:
        return outcomes_from_dict(data, ws.settings.split_order_gap)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass
class Inputs:
    """The tables every outcome report starts from, as of one time."""

    cfg: OutcomesConfig
    as_of: datetime
    events: ir.Table
    ledger: ir.Table
    purchases: ir.Table
    visits: ir.Table

    def segments(self, by: str | None) -> ir.Table | None:
        if by is None:
            return None
        return ox.segments(self.purchases, self.ledger, self.cfg, by)


def inputs(ws: Workspace) -> Inputs:
    cfg = load_outcomes(ws)
    ledger = promises_table(ws)
    as_of = ws.clock.now()
    events = ws.events()
    purchases = ox.purchase_events(events, cfg, as_of)
    return Inputs(cfg, as_of, events, ledger, purchases, ox.visits(purchases, cfg.split_gap))


def period_of(when: datetime, period: str) -> int:
    if period == "month":
        return when.year * 12 + when.month - 1
    return ((when.date() - date(1970, 1, 1)).days + 3) // 7


def period_label(index: int, period: str) -> str:
    if period == "month":
        return f"{index // 12}-{index % 12 + 1:02d}"
    return (date(1970, 1, 1) + timedelta(days=index * 7 - 3)).isoformat()


def period_from_label(label: str, period: str) -> int:
    try:
        if period == "month":
            year, month = label.split("-")
            if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()):
                raise ValueError(label)
            if not 1 <= int(month) <= 12:  # 2026-13 is no month (it was 2027-01)
                raise ValueError(label)
            return int(year) * 12 + int(month) - 1
        return period_of(datetime.fromisoformat(label), period)
    except ValueError:
        expected = "YYYY-MM" if period == "month" else "a date YYYY-MM-DD in the week"
        raise ConfigError(f"period {label!r}: expected {expected}") from None


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ConfigError(f"period {period!r}: expected one of " + ", ".join(PERIODS))


def wilson(
    count: pd.Series | np.ndarray, n: pd.Series | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson intervals of count/n (NaN where n is 0)."""
    from statsmodels.stats.proportion import proportion_confint

    c = np.asarray(count, dtype=float)
    m = np.asarray(n, dtype=float)
    safe = np.where(m > 0, m, 1)
    low, high = proportion_confint(c, safe, alpha=0.05, method="wilson")
    return np.where(m > 0, low, np.nan), np.where(m > 0, high, np.nan)


def cohort_table(ws: Workspace, period: str = "month", by: str | None = None) -> pd.DataFrame:
    """Per segment, cohort (first-purchase period) and offset: customers active, their
    share of the cohort (with its interval) and revenue. Offsets run to the as-of period;
    ``complete`` is false for the period the as-of time falls in."""
    _check_period(period)
    inp = inputs(ws)
    active = ox.active_periods(inp.visits, period, inp.segments(by))
    counts = ox.retention_counts(active).execute()
    return _grid(counts, period_of(inp.as_of, period), period)


def _grid(counts: pd.DataFrame, last: int, period: str) -> pd.DataFrame:
    cols = ["segment", "cohort", "offset", "cohort_customers", "customers", "rate", "low", "high"]
    cols += ["revenue", "revenue_per_customer", "complete"]
    if counts.empty:
        return pd.DataFrame(columns=cols)
    frames = []
    for (seg, cohort), g in counts.groupby(["segment", "cohort"], sort=True):
        full = pd.DataFrame({"offset": range(0, last - int(cohort) + 1)})
        g = full.merge(g[["offset", "customers", "revenue"]], on="offset", how="left")
        g["segment"], g["cohort"] = seg, int(cohort)
        frames.append(g)
    out = pd.concat(frames, ignore_index=True).fillna({"customers": 0, "revenue": 0.0})
    size = out[out.offset == 0].set_index(["segment", "cohort"]).customers
    out["cohort_customers"] = [size[(s, c)] for s, c in zip(out.segment, out.cohort, strict=True)]
    out["customers"] = out.customers.astype("int64")
    out["rate"] = out.customers / out.cohort_customers
    out["low"], out["high"] = wilson(out.customers, out.cohort_customers)
    out["revenue_per_customer"] = out.revenue / out.cohort_customers
    out["complete"] = (out.cohort + out.offset) < last
    out["cohort"] = [period_label(int(c), period) for c in out.cohort]
    return out[cols].reset_index(drop=True)


def retention_curve(ws: Workspace, period: str = "month", by: str | None = None) -> pd.DataFrame:
    """Per segment and offset: the share of customers active that many periods after their
    first purchase, pooled over the cohorts for which that period is complete."""
    grid = cohort_table(ws, period, by)
    done = grid[grid.complete | (grid.offset == 0)]
    if done.empty:
        return pd.DataFrame(columns=["segment", "offset", "cohorts", "cohort_customers"])
    curve = (
        done.groupby(["segment", "offset"], sort=True)
        .agg(
            cohorts=("cohort", "count"),
            cohort_customers=("cohort_customers", "sum"),
            customers=("customers", "sum"),
            revenue=("revenue", "sum"),
        )
        .reset_index()
    )
    curve["cohort_customers"] = curve.cohort_customers.astype("int64")
    curve["rate"] = curve.customers / curve.cohort_customers
    curve["low"], curve["high"] = wilson(curve.customers, curve.cohort_customers)
    curve["revenue_per_customer"] = curve.revenue / curve.cohort_customers
    return curve


def retention_customers(
    ws: Workspace,
    offset: int,
    period: str = "month",
    by: str | None = None,
    cohort: str | None = None,
    segment: str | None = None,
) -> pd.DataFrame:
    """The customers behind one retention figure: active ``offset`` periods after their
    first purchase (in ``cohort``, else in every cohort where that period is complete)."""
    _check_period(period)
    inp = inputs(ws)
    a = ox.active_periods(inp.visits, period, inp.segments(by))
    a = a.filter(a.p - a.cohort == offset)
    if cohort is not None:
        a = a.filter(a.cohort == period_from_label(cohort, period))
    elif offset > 0:
        a = a.filter(a.p < period_of(inp.as_of, period))
    if segment is not None:
        a = a.filter(a.segment == segment)
    df = a.select("segment", "customer_id", "cohort", revenue=a.value).execute()
    df["cohort"] = [period_label(int(c), period) for c in df.cohort]
    return df.sort_values(["segment", "cohort", "customer_id"]).reset_index(drop=True)


def repeat_purchase(ws: Workspace, by: str | None = None) -> pd.DataFrame:
    """Per segment: customers, repeat customers (a second visit at any time) and, per
    window, the share of customers observed that long with a second visit within it."""
    inp = inputs(ws)
    df = ox.repeat_counts(inp.visits, inp.segments(by), inp.cfg.horizons, inp.as_of).execute()
    df = df.sort_values("segment").reset_index(drop=True)
    df["repeat_rate"] = df.repeaters / df.customers
    df["low"], df["high"] = wilson(df.repeaters, df.customers)
    for h in inp.cfg.horizons:
        name = horizon_days(h)
        df[f"rate_{name}"] = df[f"repeat_{name}"] / df[f"observed_{name}"].where(
            df[f"observed_{name}"] > 0
        )
        df[f"low_{name}"], df[f"high_{name}"] = wilson(df[f"repeat_{name}"], df[f"observed_{name}"])
    return df


def repeat_customers(
    ws: Workspace, by: str | None = None, segment: str | None = None
) -> pd.DataFrame:
    """The repeat customers (a second visit) behind :func:`repeat_purchase`."""
    inp = inputs(ws)
    per = ox.customer_visits(inp.visits)
    seg = inp.segments(by)
    per = ox.with_segment(per, seg)
    per = per.filter(per.n_visits >= 2)
    if segment is not None:
        per = per.filter(per.segment == segment)
    df = per.execute()
    return df.sort_values(["segment", "customer_id"]).reset_index(drop=True)


def lifecycle(ws: Workspace, period: str = "month", by: str | None = None) -> pd.DataFrame:
    """Per segment and period: customers new, returning, resurrecting and dormant."""
    _check_period(period)
    inp = inputs(ws)
    last = period_of(inp.as_of, period)
    rows = ox.lifecycle_rows(ox.active_periods(inp.visits, period, inp.segments(by)), last)
    counts = rows.group_by(["segment", "p", "state"]).aggregate(customers=rows.count()).execute()
    wide = counts.pivot_table(
        index=["segment", "p"], columns="state", values="customers", fill_value=0
    )
    wide = wide.reindex(columns=list(LIFECYCLE_STATES), fill_value=0).astype("int64")
    wide = wide.reset_index().sort_values(["segment", "p"])
    wide.insert(1, "period", [period_label(int(p), period) for p in wide.p])
    wide["active"] = wide.new + wide.returning + wide.resurrecting
    wide["complete"] = wide.p < last
    wide.columns.name = None
    return wide.drop(columns="p").reset_index(drop=True)


def lifecycle_customers(
    ws: Workspace,
    at: str,
    state: str,
    period: str = "month",
    by: str | None = None,
    segment: str | None = None,
) -> pd.DataFrame:
    """The customers in one lifecycle state in one period."""
    _check_period(period)
    if state not in LIFECYCLE_STATES:
        raise ConfigError(f"state {state!r}: expected one of " + ", ".join(LIFECYCLE_STATES))
    inp = inputs(ws)
    last = period_of(inp.as_of, period)
    rows = ox.lifecycle_rows(ox.active_periods(inp.visits, period, inp.segments(by)), last)
    rows = rows.filter(rows.p == period_from_label(at, period), rows.state == state)
    if segment is not None:
        rows = rows.filter(rows.segment == segment)
    df = rows.select("segment", "customer_id", "state").execute()
    df.insert(1, "period", at)
    return df.sort_values(["segment", "customer_id"]).reset_index(drop=True)
