"""The value of a kept promise: what a customer's first broken (or exceeded) promise did to
their repeat purchase, revenue and review score, estimated doubly robust.

The unit is a customer whose first promise of the rule (setting ``outcomes``) was
resolved: kept, exceeded or broken. ``t0`` is when it was resolved (delivered, or due and
never delivered); the outcomes count visits (split orders merged) after ``t0`` within each
window, and the review of the promise's order. A customer enters a window's estimate only
when ``t0`` plus the window is before the as-of time (censoring; the number left out is
reported). Covariates are what was known when the promise opened: the order's amount, its
promised lead time, the month, and the opening event's attributes named in the outcomes
file. docs/outcomes.md#the-value-of-a-kept-promise explains the method.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from cxloop.analytics import outcomes as ox
from cxloop.domain.causal import aipw
from cxloop.domain.outcomes import CONTRASTS, OutcomesConfig, horizon_days
from cxloop.errors import ConfigError
from cxloop.services.outcomes.retention import inputs
from cxloop.workspace.workspace import Workspace


def units(ws: Workspace) -> tuple[pd.DataFrame, OutcomesConfig]:
    """One row per customer with a first promise: state, t0, covariates and outcomes."""
    inp = inputs(ws)
    t = ox.promise_units(inp.events, inp.ledger, inp.visits, inp.cfg, inp.as_of)
    df = t.execute().sort_values("customer_id").reset_index(drop=True)
    as_of = pd.Timestamp(inp.as_of)
    for h in inp.cfg.horizons:
        name = horizon_days(h)
        df[f"observed_{name}"] = (pd.to_datetime(df.t0) + pd.Timedelta(h)) <= as_of
        df[f"repeat_{name}"] = (df[f"visits_{name}"] > 0).astype("int64")
    return df, inp.cfg


def covariates(df: pd.DataFrame, cfg: OutcomesConfig) -> tuple[np.ndarray, list[str]]:
    """The design matrix of what was known before the promise: numbers (missing as the
    median, with a missing flag) and categories (rare ones pooled) one-hot."""
    opened = pd.to_datetime(df.opened_at)
    num = pd.DataFrame(
        {
            "log_amount": np.log1p(df.order_amount.clip(lower=0)),
            "lead_days": df.lead_days,
            "month": opened.dt.year * 12 + opened.dt.month,
        }
    )
    for k in cfg.numeric:
        col = pd.to_numeric(df[f"num_{k}"], errors="coerce")
        if col.notna().any():
            num[k] = col
    cols = []
    for name in list(num.columns):
        col = num[name].astype(float)
        if col.isna().any():
            num[f"{name}_missing"] = col.isna().astype(float)
        num[name] = col.fillna(col.median() if col.notna().any() else 0.0)
        cols.append(name)
    cats = []
    for k in cfg.categorical:
        col = df[f"cat_{k}"]
        if col.isna().all():
            continue
        counts = col.value_counts()
        keep = set(counts[counts >= cfg.min_category].index)
        cats.append(col.where(col.isin(keep), "other").fillna("(missing)").rename(k))
    dummies = pd.get_dummies(pd.concat(cats, axis=1), drop_first=True) if cats else None
    x = num if dummies is None else pd.concat([num, dummies.astype(float)], axis=1)
    return x.to_numpy(dtype=float), list(x.columns)


def _outcomes(cfg: OutcomesConfig) -> list[tuple[str, str, bool, timedelta | None]]:
    """(name, column, binary, window) of every outcome estimated."""
    out: list[tuple[str, str, bool, timedelta | None]] = []
    for h in cfg.horizons:
        name = horizon_days(h)
        out.append((f"repeat purchase within {name}", f"repeat_{name}", True, h))
        out.append((f"revenue within {name}", f"revenue_{name}", False, h))
    out.append(("review score", "review_score", False, None))
    return out


def promise_value(ws: Workspace, contrast: str = "broken", seed: int = 0) -> dict[str, Any]:
    """Per outcome: the naive difference and the doubly robust effect of the contrast's
    treated state against its reference, with 95% intervals and E-values."""
    if contrast not in CONTRASTS:
        raise ConfigError(f"contrast {contrast!r}: expected one of " + ", ".join(CONTRASTS))
    treated, reference = CONTRASTS[contrast]
    df, cfg = units(ws)
    pool = df[df.state.isin(treated + reference)].reset_index(drop=True)
    x, names = covariates(pool, cfg)
    t = pool.state.isin(treated).to_numpy(dtype=float)
    rows = []
    for label, col, binary, window in _outcomes(cfg):
        keep = (
            pool[f"observed_{horizon_days(window)}"].to_numpy()
            if window is not None
            else pool[col].notna().to_numpy()
        )
        rows.append(
            _row(
                label,
                x[keep],
                t[keep],
                pool[col].to_numpy(float)[keep],
                binary,
                cfg,
                seed,
                len(pool) - int(keep.sum()),
            )
        )
    return {
        "contrast": contrast,
        "treated": list(treated),
        "reference": list(reference),
        "promise_rule": cfg.promise_rule,
        "customers": len(df),
        "in_contrast": len(pool),
        "states": {str(k): int(v) for k, v in df.state.value_counts().sort_index().items()},
        "covariates": names,
        "rows": rows,
    }


def _row(
    label: str,
    x: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    binary: bool,
    cfg: OutcomesConfig,
    seed: int,
    left_out: int,
) -> dict[str, Any]:
    base = {"outcome": label, "left_out": left_out, "n": len(t), "n_treated": int(t.sum())}
    try:
        effect = aipw(x, t, y, binary=binary, folds=cfg.folds, seed=seed)
    except ValueError as exc:
        return {**base, "note": str(exc)}
    return {**base, **asdict(effect), "note": ""}


def promise_value_customers(
    ws: Workspace, contrast: str = "broken", window: str | None = None
) -> pd.DataFrame:
    """The customers in the contrast: their first promise, covariates and outcomes; with
    ``window`` (``90d``) only those observed for that long."""
    if contrast not in CONTRASTS:
        raise ConfigError(f"contrast {contrast!r}: expected one of " + ", ".join(CONTRASTS))
    treated, reference = CONTRASTS[contrast]
    df, cfg = units(ws)
    df = df[df.state.isin(treated + reference)].copy()
    df.insert(1, "treated", df.state.isin(treated))
    if window is not None:
        names = [horizon_days(h) for h in cfg.horizons]
        if window not in names:
            raise ConfigError(f"window {window!r}: expected one of " + ", ".join(names))
        df = df[df[f"observed_{window}"]]
    return df.reset_index(drop=True)
