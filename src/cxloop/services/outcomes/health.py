"""Health and churn risk from the log, validated on time, with revenue at risk.

Churn here means *no purchase within the horizon H after a cut-off* (setting
``health_horizon``). Features come from the log before the cut-off only
(:mod:`cxloop.analytics.health`, engine-side). Validation is a time split: a model fitted
on the cut-off ``now - 2H`` (its label: bought in the H days after it?) is scored on the
cut-off ``now - H``, whose label window ends at the store's clock; the model is chosen by
cross-validation on the earlier snapshot only. The risk reported per customer comes from
the chosen model refitted on the later snapshot and applied to the features as of now.

Revenue at risk = risk x expected value over the next H days, the expected value being the
customer's mean order value x their expected orders in H days (their order days per day of
tenure x H, at least one order).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cxloop.analytics import health as hq
from cxloop.errors import ConfigError
from cxloop.results.outcomes import HealthReport
from cxloop.services.outcomes import churn_model as cm
from cxloop.services.promises.ledger import promises_table
from cxloop.workspace.workspace import Workspace

MIN_ROWS = 40  # fewer customers in a snapshot, or fewer than 5 of a class: no model
MAX_FIT_ROWS = 50_000  # a model is fitted on at most this many customers (a stratified sample)


@dataclass
class Health:
    """The validation figures and one row per customer, riskiest revenue first."""

    as_of: datetime
    horizon_days: float
    validation: dict[str, Any]
    rows: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def report(self) -> HealthReport:
        """Revenue at risk and the validation figures, as one typed result."""
        s = self.summary
        return HealthReport.model_validate(
            {
                "as_of": self.as_of.isoformat(),
                "horizon_days": self.horizon_days,
                **{k: s.get(k) for k in ("customers", "mean_risk", "revenue_at_risk")},
                "expected_value": s.get("expected_value"),
                "stale": bool(s.get("stale", False)),
                "validation": self.validation,
            }
        )


def load_spec(path: Path | None) -> hq.HealthSpec:
    """The event types that mean purchase, contact, effort..., from a TOML file (default:
    the built-in rules/health.toml); an unknown key is an error naming it."""
    if path is None:
        text = resources.files("cxloop.rules").joinpath("health.toml").read_text("utf-8")
        where = "built-in health.toml"
    else:
        if not path.exists():
            raise ConfigError(f"health spec {path}: no such file")
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not TOML: {exc}") from exc
    known = set(hq.HealthSpec.__dataclass_fields__)
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        if isinstance(value, list):
            raw[key] = tuple(str(v) for v in value)
    if not isinstance(raw.get("purchase", "x"), str):
        raise ConfigError(f"{where}: purchase must be one event type")
    return hq.HealthSpec(**raw)


def snapshot(
    ws: Workspace, cutoff: datetime, spec: hq.HealthSpec, horizon: timedelta | None
) -> pd.DataFrame:
    """Features as of ``cutoff`` (and, given ``horizon``, the label ``churned``: no purchase
    in the ``horizon`` after it), one row per customer, computed by the engine."""
    events = ws.events()
    expr = hq.features(events, promises_table(ws), cutoff, spec)
    if horizon is not None:
        bought = hq.purchased_within(events, cutoff, cutoff + horizon, spec)
        joined = expr.left_join(bought, expr.customer_id == bought.b_customer)
        expr = joined.select(
            *hq.FEATURES,
            "customer_id",
            churned=ibis.ifelse(joined.b_customer.isnull(), 1, 0).cast("int64"),
        )
    df = expr.to_pandas().sort_values("customer_id", kind="stable").reset_index(drop=True)
    return df


def _prepared(df: pd.DataFrame, cap: int | None = None) -> cm.Prepared:
    """Features and label; with ``cap``, a stratified sample of at most ``cap`` rows (the
    fit's cost grows with rows, its accuracy hardly beyond tens of thousands)."""
    if cap is not None and len(df) > cap:
        share = cap / len(df)
        df = df.groupby("churned", group_keys=False).sample(frac=share, random_state=cm.SEED)
    x = df[list(hq.FEATURES)].astype(float)
    y = df["churned"].to_numpy(int) if "churned" in df else np.zeros(0, dtype=int)
    return cm.Prepared(x, y, list(hq.FEATURES), [], {"no purchase": 1, "purchase": 0})


def _usable(df: pd.DataFrame, when: datetime) -> None:
    counts = np.bincount(df["churned"].to_numpy(int), minlength=2) if len(df) else np.zeros(2)
    if len(df) < MIN_ROWS or counts.min() < 5:
        raise ConfigError(
            f"the snapshot at {when:%Y-%m-%d} has {len(df):,} customers, {int(counts[1]):,} "
            f"without a purchase after it: too few to fit a model (need {MIN_ROWS} and 5 of each); "
            "a shorter health_horizon or a longer log helps"
        )


def validate(
    ws: Workspace, now: datetime, horizon: timedelta, spec: hq.HealthSpec
) -> tuple[dict[str, Any], pd.DataFrame, str]:
    """Fit on the snapshot ``now - 2H``, score on ``now - H``: the held-out figures, the later
    snapshot (to refit on) and the chosen model's name."""
    train_at, test_at = now - 2 * horizon, now - horizon
    train, test = snapshot(ws, train_at, spec, horizon), snapshot(ws, test_at, spec, horizon)
    _usable(train, train_at)
    _usable(test, test_at)
    p_train, p_test = _prepared(train, MAX_FIT_ROWS), _prepared(test)
    name, cv_auc = cm.select(p_train, p_train.x, p_train.y)
    model = cm.fit_calibrated(p_train, name, p_train.x, p_train.y)
    prob = model.predict_proba(p_test.x)[:, 1]
    recency = cm.single_column_auc(p_test.x["recency_days"], p_test.y, categorical=False)
    figures = {
        **cm.scores(p_test.y, prob),
        "model": name,
        "cv_roc_auc": {k: round(v, 4) for k, v in cv_auc.items()},
        "recency_only_roc_auc": round(recency, 4),
        "train_cutoff": train_at.isoformat(),
        "test_cutoff": test_at.isoformat(),
        "validation": f"time split: fitted at {train_at:%Y-%m-%d}, scored at {test_at:%Y-%m-%d}",
        "warning": completeness(ws, now, horizon, spec.purchase),
    }
    return figures, test, name


def completeness(ws: Workspace, now: datetime, horizon: timedelta, purchase: str) -> str:
    """A warning when the last horizon holds under half the purchases of the one before:
    a log that ends earlier than the store's clock makes every customer look lost."""
    e = ws.events()
    buys = e.filter((e.event_type == purchase) & (e.ts < now) & (e.ts >= now - 2 * horizon))
    recent = buys.ts >= now - horizon
    counts = buys.aggregate(
        last=ibis.ifelse(recent, 1, 0).sum(), before=ibis.ifelse(recent, 0, 1).sum()
    )
    row = counts.to_pandas().iloc[0]
    last, before = int(row["last"] or 0), int(row["before"] or 0)
    if before and last < 0.5 * before:
        return (
            f"the last {horizon.days} days before {now:%Y-%m-%d} hold {last:,} purchases, the "
            f"{horizon.days} before them {before:,}: is the log complete up to then? (the "
            "global --as-of sets the date the scoring is as of)"
        )
    return ""


def expected_value(df: pd.DataFrame, horizon: timedelta) -> pd.Series:
    """Mean order value x expected orders in the horizon (order days per tenure day x H,
    at least one)."""
    days = horizon.total_seconds() / 86400
    rate = df["order_days"] / np.maximum(df["tenure_days"], days)
    return df["mean_order_value"].fillna(0.0) * np.maximum(1.0, rate * days)


def health(ws: Workspace, horizon: timedelta, spec: hq.HealthSpec, top: int = 3) -> Health:
    """Every customer's churn risk as of the store's clock, its reasons and revenue at risk."""
    now = ws.clock.now()
    with threadpool_limits(1):
        figures, recent, name = validate(ws, now, horizon, spec)
        p_recent = _prepared(recent, MAX_FIT_ROWS)
        model = cm.fit_calibrated(p_recent, name, p_recent.x, p_recent.y)
        current = snapshot(ws, now, spec, None)
        x = current[list(hq.FEATURES)].astype(float)
        risk, why = cm.reasons(model, x, cm.reference(p_recent), top)
    rows = current[["customer_id", "recency_days", "order_days", "promises_broken"]].copy()
    rows["risk"] = risk.round(4)
    rows["expected_value"] = expected_value(current, horizon).round(2)
    rows["revenue_at_risk"] = (rows["risk"] * rows["expected_value"]).round(2)
    rows["reasons"] = ["; ".join(_reason(r) for r in rs) for rs in why]
    rows = rows.sort_values(
        ["revenue_at_risk", "customer_id"], ascending=[False, True], kind="stable"
    )
    summary = {
        "customers": len(rows),
        "mean_risk": round(float(rows["risk"].mean()), 4) if len(rows) else None,
        "revenue_at_risk": round(float(rows["revenue_at_risk"].sum()), 2),
        "expected_value": round(float(rows["expected_value"].sum()), 2),
    }
    days = horizon.total_seconds() / 86400
    return Health(now, days, figures, rows.reset_index(drop=True), summary)


def _reason(r: dict[str, Any]) -> str:
    value = r["value"]
    if isinstance(value, float):
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    else:
        shown = str(value)
    return f"{r['feature']}={shown} (+{r['raises_by']:.1%})"


def distribution(rows: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Customers and revenue at risk per risk band of width 1/bins: the risk distribution."""
    edges = np.linspace(0, 1, bins + 1)
    band = np.clip(np.floor(rows["risk"].to_numpy() * bins), 0, bins - 1).astype(int)
    out = pd.DataFrame({"band": band, "revenue_at_risk": rows["revenue_at_risk"].to_numpy()})
    grouped = out.groupby("band").agg(
        customers=("band", "size"), revenue_at_risk=("revenue_at_risk", "sum")
    )
    grouped = grouped.reindex(range(bins), fill_value=0)
    return pd.DataFrame(
        {
            "risk_from": edges[:-1].round(2),
            "risk_to": edges[1:].round(2),
            "customers": grouped["customers"].astype(int).to_numpy(),
            "revenue_at_risk": grouped["revenue_at_risk"].round(2).to_numpy(),
        }
    )


def save(ws: Workspace, h: Health, spec_file: Path | None = None) -> None:
    """Keep the latest scoring in the store (``HOME/outcomes/``) for the brief and the
    dashboard, marked with the log version it was computed from."""
    folder = ws.home / "outcomes"
    folder.mkdir(parents=True, exist_ok=True)
    h.rows.to_parquet(folder / "health.parquet.part", index=False)
    (folder / "health.parquet.part").replace(folder / "health.parquet")
    meta = {
        "as_of": h.as_of.isoformat(),
        "horizon_days": h.horizon_days,
        "log_version": ws.log.version,
        "spec_file": str(spec_file) if spec_file else "",
        "summary": h.summary,
        "validation": h.validation,
    }
    (folder / "health.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def saved(ws: Workspace) -> Health | None:
    """The latest scoring kept by :func:`save`, or None; ``summary["stale"]`` says whether
    the log changed since."""
    folder = ws.home / "outcomes"
    if not (folder / "health.json").exists() or not (folder / "health.parquet").exists():
        return None
    meta = json.loads((folder / "health.json").read_text(encoding="utf-8"))
    rows = pd.read_parquet(folder / "health.parquet")
    summary = {**meta["summary"], "stale": meta["log_version"] != ws.log.version}
    when = datetime.fromisoformat(meta["as_of"])
    h = Health(when, float(meta["horizon_days"]), meta["validation"], rows, summary)
    h.summary["spec_file"] = meta.get("spec_file", "")
    return h


def reusable(ws: Workspace, horizon: timedelta, spec_file: Path | None) -> Health | None:
    """The kept scoring when it answers this question: same log version, same clock, same
    horizon and event-type spec (scoring again would give the same result)."""
    h = saved(ws)
    if (
        h is None
        or h.summary["stale"]
        or h.as_of != ws.clock.now()
        or h.horizon_days != horizon.total_seconds() / 86400
        or h.summary.get("spec_file", "") != (str(spec_file) if spec_file else "")
    ):
        return None
    h.summary.pop("spec_file", None)
    h.summary.pop("stale", None)
    return h
