"""Funnels and paths over the store: specs in, one-row-per-item DataFrames out.

The counting runs on the engine (:mod:`cxloop.analytics.funnels`); what comes back is one
row per step (per breakdown value), the time-to-convert durations of the customers who
converted (for the percentiles and the histogram), and on request the customers behind a
step's drop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxloop.analytics import funnels as fa
from cxloop.analytics import paths as pa
from cxloop.domain.funnels import (
    FunnelSpec,
    PathSpec,
    build_funnel,
    duration_field,
    funnel_from_dict,
    parse_exclusion,
    parse_step,
    step_index,
)
from cxloop.results.journeys import FunnelReport
from cxloop.serialize import clean
from cxloop.workspace.config import read_toml
from cxloop.workspace.workspace import Workspace

QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}


def load_funnel(path: Path | None) -> FunnelSpec:
    """A funnel TOML file, or the built-in commerce funnel (``cxloop/rules/funnel.toml``)."""
    data, where = read_toml(path, "funnel.toml", "funnel")
    return funnel_from_dict(data, where)


def funnel_from_args(
    steps: list[str],
    *,
    file: Path | None = None,
    order: str | None = None,
    window: str | None = None,
    exclude: list[str] | None = None,
    by: str | None = None,
    conversion_from: str | None = None,
) -> FunnelSpec:
    """A funnel from command-line pieces: ``steps`` (else the file's, else the built-in
    funnel's), and options that override the file's."""
    base = load_funnel(file)
    parsed = [parse_step(s, i + 1) for i, s in enumerate(steps)] if steps else list(base.steps)
    win = base.window
    if window is not None:
        win = duration_field(window, "funnel", "window")
    excl = list(base.exclusions) if not steps else []
    excl += [parse_exclusion(x, tuple(parsed), i + 1) for i, x in enumerate(exclude or [])]
    return build_funnel(
        parsed,
        order=order or base.order,
        window=win,
        exclusions=excl,
        by=by if by is not None else base.by,
        conversion_from=conversion_from or base.conversion_from,
        bins=base.bins,
    )


@dataclass
class FunnelCustomers:
    """Each customer's best attempt (an Ibis table on the workspace's engine): what the
    drill-downs read."""

    spec: FunnelSpec
    customers: ir.Table


@dataclass
class FunnelResult(FunnelCustomers):
    steps: pd.DataFrame
    time_to_convert: dict[str, Any]
    histogram: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        return {
            "funnel": self.spec.as_dict(),
            "time_to_convert": self.time_to_convert,
            "histogram": self.histogram.to_dict("records"),
        }

    def report(self) -> FunnelReport:
        """The figures as one typed result: the spec, the steps, the time to convert."""
        steps = json.loads(self.steps.to_json(orient="records", date_format="iso", date_unit="s"))
        return FunnelReport.model_validate({**clean(self.summary()), "steps": steps})


def as_of(ws: Workspace) -> ir.Table:
    """The log up to the store's clock (a report is as of it)."""
    events = ws.events()
    return events.filter(events.ts <= ws.clock.now())


def funnel_customers(ws: Workspace, spec: FunnelSpec) -> FunnelCustomers:
    """The customers' best attempts, without counting them (for a drill-down alone)."""
    return FunnelCustomers(spec, fa.per_customer(as_of(ws), spec))


def run_funnel(ws: Workspace, spec: FunnelSpec) -> FunnelResult:
    """Counted on the engine. Each customer's best attempt is materialised there once (one
    row per customer) for the counts and the durations, then released; a drill-down later
    recomputes it in one query (``customers`` is the expression, not the copy)."""
    customers = fa.per_customer(as_of(ws), spec)
    cached = ws.cache(customers)
    try:
        counts = fa.step_counts(cached, spec).execute()
        seconds = cached.filter(cached.seconds.notnull()).seconds.execute()
    finally:
        cached.release()
    hours = seconds.astype("float64").to_numpy() / 3600.0
    ttc, hist = _distribution(hours, spec.bins)
    return FunnelResult(spec, customers, _step_rows(counts, spec), ttc, hist)


def _step_rows(counts: pd.DataFrame, spec: FunnelSpec) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for _, c in counts.sort_values("bd").iterrows():
        first = int(c["c0"])
        for k, step in enumerate(spec.steps):
            n = int(c[f"c{k}"])
            p = fa.previous_required(spec, k)
            prev = first if p is None else int(c[f"c{p}"])
            row: dict[str, Any] = {"breakdown": c["bd"]} if spec.by else {}
            name, event = step.name, step.describe()
            if spec.order == "unordered":  # step k: any k of the steps, in any order
                name = f"{k + 1} of {len(spec.steps)}"
                event = "any order: " + ", ".join(s.describe() for s in spec.steps)
            row |= {
                "step": k + 1,
                "name": name,
                "event": event,
                "optional": step.optional,
                "customers": n,
                "conversion_from_first": n / first if first else None,
                "conversion_from_previous": n / prev if prev else None,
                "dropped": prev - n,
            }
            row["conversion"] = row[f"conversion_from_{spec.conversion_from}"]
            rows.append(row)
    return pd.DataFrame(rows)


def _distribution(hours: np.ndarray, bins: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Percentiles (linear interpolation) and equal-width bins of the hours to convert."""
    if hours.size == 0:
        empty = pd.DataFrame(columns=["from_hours", "to_hours", "customers"])
        return {"converted": 0, **{k: None for k in QUANTILES}, "mean": None}, empty
    stats: dict[str, Any] = {"converted": int(hours.size)}
    stats |= {k: round(float(np.quantile(hours, q)), 4) for k, q in QUANTILES.items()}
    stats["mean"] = round(float(hours.mean()), 4)
    counts, edges = np.histogram(hours, bins=bins)
    hist = pd.DataFrame(
        {"from_hours": edges[:-1].round(4), "to_hours": edges[1:].round(4), "customers": counts}
    )
    return stats, hist


def _as_time(e: pd.Series) -> pd.Series:
    return pd.to_datetime(e.astype("float64"), unit="s").dt.round("s")


def dropped_customers(result: FunnelCustomers, step: str) -> pd.DataFrame:
    """The customers who dropped at ``step`` (name or 1-based number): they reached the
    step before it and not this one; as many rows as the step's ``dropped``."""
    spec = result.spec
    k = step_index(step, spec.steps, "--dropped", "step")
    t = fa.dropped(result.customers, spec, k)
    p = fa.previous_required(spec, k)
    df = t.select(
        customer_id=t.customer_id, breakdown=t.bd, started_e=t.start, last_e=t.last_e
    ).execute()
    df = df.sort_values("customer_id").reset_index(drop=True)
    out = pd.DataFrame(
        {
            "customer_id": df.customer_id,
            "dropped_at": _label(spec, k),
            "last_step": _label(spec, p) if p is not None else None,
            "started_at": _as_time(df.started_e),
            "last_step_at": _as_time(df.last_e),
        }
    )
    if spec.by:
        out.insert(1, "breakdown", df.breakdown)
    return out


def _label(spec: FunnelSpec, k: int) -> str:
    return f"{k + 1} of {len(spec.steps)}" if spec.order == "unordered" else spec.steps[k].name


def converted_customers(result: FunnelCustomers) -> pd.DataFrame:
    """The customers who completed every required step, with their hours to convert."""
    t = result.customers.filter(result.customers.seconds.notnull())
    df = t.select(customer_id=t.customer_id, start=t.start, seconds=t.seconds).execute()
    df = df.sort_values("customer_id").reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": df.customer_id,
            "started_at": _as_time(df.start),
            "hours_to_convert": (df.seconds.astype("float64") / 3600).round(4),
        }
    )


def _path_text(row: pd.Series, steps: int, before: bool) -> str:
    seq = [str(row[f"p{k}"]) for k in range(steps)]
    ended = pa.END in seq
    seq = [s for s in seq if s != pa.END]
    if before:
        seq = list(reversed(seq))
        return " → ".join((["(start)"] if ended else []) + seq)
    return " → ".join(seq + ([pa.END] if ended else []))


def _paths_frame(wide: ir.Table, steps: int, top: int, before: bool) -> pd.DataFrame:
    total = int(wide.count().execute())
    df = pa.top_paths(wide, steps, top).execute()
    out = pd.DataFrame(
        {
            "rank": range(1, len(df) + 1),
            "path": [_path_text(r, steps, before) for _, r in df.iterrows()],
            "customers": df.customers.astype("int64"),
            "share": df.customers / total if total else 0.0,
        }
    )
    # the events in time order: before an anchor, p0 is the nearest (the last)
    order = range(steps - 1, -1, -1) if before else range(steps)
    for n, k in enumerate(order):
        col = df[f"p{k}"]
        out[f"event_{n + 1}"] = (col.replace(pa.END, "(start)") if before else col).to_numpy()
    out.attrs["total"] = total
    return out


def run_paths(ws: Workspace, spec: PathSpec) -> pd.DataFrame:
    """The top paths (one row each: rank, path, customers, share of those anchored)."""
    events = as_of(ws)
    wide = pa.pivot(events, pa.anchors(events, spec), spec.direction, spec.steps)
    return _paths_frame(wide, spec.steps, spec.top, spec.direction == "before")


def path_customers(ws: Workspace, spec: PathSpec, rank: int) -> pd.DataFrame:
    """The customers who followed the path at ``rank`` (1-based) of :func:`run_paths`."""
    events = as_of(ws)
    wide = pa.pivot(events, pa.anchors(events, spec), spec.direction, spec.steps)
    top = pa.top_paths(wide, spec.steps, rank).execute()
    if len(top) < rank:
        from cxloop.errors import NotFoundError

        raise NotFoundError(f"--customers {rank}: only {len(top)} paths")
    want = top.iloc[rank - 1]
    cond = ibis.and_(*[wide[f"p{k}"] == str(want[f"p{k}"]) for k in range(spec.steps)])
    ids = wide.filter(cond).customer_id.execute()
    return pd.DataFrame({"customer_id": sorted(ids)})


def after_dropping(
    result: FunnelCustomers, ws: Workspace, step: str, steps: int, top: int
) -> pd.DataFrame:
    """Where the customers who dropped at ``step`` went next: their next event types after
    their last step, counted per path (shares of those who dropped)."""
    spec = result.spec
    k = step_index(step, spec.steps, "--next", "step")
    t = fa.dropped(result.customers, spec, k)
    starts = t.select(customer_id=t.customer_id, a_e=t.last_e, b_e=ibis.null("float64"))
    wide = pa.pivot(as_of(ws), starts, "after", steps)
    return _paths_frame(wide, steps, top, before=False)
