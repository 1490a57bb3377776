"""Use case: which remedies won customers back (issue C7, item 5).

Per failure kind (the kind of the broken promise), remedy and amount band, the effect on
the treated of getting that remedy on retention (ordered again within the horizon),
against comparable failures of the same kind that got nothing: a cross-fitted doubly
robust estimate on the pre-failure history (:mod:`cxloop.domain.uplift`). Amount bands
are cut at the empowerment policy's limits for that remedy, so the table reads against
the policy ("grants above what an agent may give did not retain better").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxloop.analytics.remedies import failures, remedies_given
from cxloop.domain.policy import Policy
from cxloop.domain.remedies import MONETARY, Remedy
from cxloop.domain.uplift import Estimate, Qini, att, qini
from cxloop.errors import ConfigError
from cxloop.services.outcomes.remedies_rules import RemedyRules, load_remedy_rules
from cxloop.services.promises.ledger import promises_table
from cxloop.workspace.workspace import Workspace

FEATURES = (
    "prior_orders",
    "prior_spend",
    "tenure_days",
    "order_amount",
    "late_hours",
    "prior_broken",
)
NONE = "none"
ANY = "any"


def rules_of(ws: Workspace) -> RemedyRules:
    return load_remedy_rules(ws.settings.remedies_rules)


def _main_remedy(given: pd.DataFrame, rules: RemedyRules) -> pd.DataFrame:
    """Per failure, the remedy it got: the money remedy with the most money, else the first
    other remedy in the rules' order; and its amount."""
    if given.empty:
        return pd.DataFrame(columns=["promise_id", "remedy", "amount", "remedies"])
    g = given.assign(
        remedy=given.event_type.map(lambda t: rules.remedy_of(t).remedy),  # type: ignore[union-attr]
        money=given.event_type.map(lambda t: rules.remedy_of(t).money),  # type: ignore[union-attr]
        rank=given.event_type.map([r.event_type for r in rules.remedy_events].index),
    )
    g["amount"] = np.where(g.money, g.amount.astype(float), 0.0)
    per = g.groupby(["promise_id", "remedy"], as_index=False).agg(
        amount=("amount", "sum"), money=("money", "max"), rank=("rank", "min")
    )
    per = per.sort_values(["promise_id", "money", "amount", "rank"], ascending=[1, 0, 0, 1])
    every = per.groupby("promise_id").remedy.agg(lambda s: ",".join(sorted(s)))
    main = per.drop_duplicates("promise_id")[["promise_id", "remedy", "amount"]]
    return main.merge(every.rename("remedies").reset_index(), on="promise_id")


def failure_frame(ws: Workspace, rules: RemedyRules | None = None) -> pd.DataFrame:
    """One row per customer's first failure of each kind: pre-failure history, the remedy
    it got (``none`` if nothing), the amount, and retained/observed per horizon."""
    rules = rules or rules_of(ws)
    as_of = ws.clock.now()
    events = ws.events()
    f = failures(events, promises_table(ws), as_of, rules.horizons, rules.split_days)
    frame = f.execute()
    types = [r.event_type for r in rules.remedy_events]
    given = remedies_given(events, f, types, rules.remedy_window_days, as_of).execute()
    # a refund paid late is the broken refund promise kept late, not a remedy for it
    kinds = given.promise_id.map(dict(zip(frame.promise_id, frame.kind, strict=True)))
    same = given.event_type.map(lambda t: rules.remedy_of(t).remedy) == kinds  # type: ignore[union-attr]
    given = given[~same]
    frame = frame.merge(_main_remedy(given, rules), on="promise_id", how="left")
    frame["remedy"] = frame.remedy.fillna(NONE)
    frame["amount"] = pd.to_numeric(frame.amount, errors="coerce").fillna(0.0).astype(float)
    frame["remedies"] = frame.remedies.astype(object).where(frame.remedies.notna(), "")
    for col in FEATURES:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(0.0).astype(float)
    return frame.sort_values(["kind", "failed_at", "promise_id"]).reset_index(drop=True)


@dataclass(frozen=True)
class Band:
    name: str
    low: float  # exclusive (0: from the first cent)
    high: float  # inclusive (inf: no top)
    limit: str  # the policy lines whose limit is ``high``


def policy_bands(policy: Policy, remedy: str) -> tuple[Band, ...]:
    """Amount bands of a money remedy cut at the policy's limits for it (``any`` for the
    others): (0, 25], (25, 50], ... with the roles whose limit each top is."""
    if remedy == NONE or Remedy(remedy) not in MONETARY:
        return (Band(ANY, 0.0, math.inf, ""),)
    tops: dict[float, list[str]] = {}
    for g in policy.grants:
        if g.remedy.value == remedy and g.max_amount is not None:
            when = g.when.describe()
            tops.setdefault(float(g.max_amount), []).append(g.role + (f" ({when})" if when else ""))
    edges = sorted(tops)
    bands, low = [], 0.0
    for top in edges:
        bands.append(Band(f"{low:g}-{top:g}", low, top, ", ".join(tops[top])))
        low = top
    bands.append(Band(f">{low:g}", low, math.inf, "above every limit" if edges else ""))
    return tuple(bands)


def band_of(bands: tuple[Band, ...], amount: float) -> Band:
    return next(b for b in bands if amount <= b.high or b.high == math.inf)


def with_bands(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """``frame`` with each failure's amount band (``none`` for no remedy)."""
    names = [
        NONE if r == NONE else band_of(policy_bands(policy, r), a).name
        for r, a in zip(frame.remedy, frame.amount, strict=True)
    ]
    return frame.assign(band=names)


def _arrays(rows: pd.DataFrame, horizon: int) -> tuple[Any, Any, Any]:
    x = rows[list(FEATURES)].to_numpy(float)
    x = np.sign(x) * np.log1p(np.abs(x))
    return x, rows.treated.to_numpy(float), rows[f"retained_{horizon}"].to_numpy(float)


def arm(frame: pd.DataFrame, kind: str, remedy: str, band: str, horizon: int) -> pd.DataFrame:
    """The failures of one comparison, observed for ``horizon``: those that got ``remedy``
    in ``band`` (treated) and those of the same kind that got nothing."""
    seen = frame[(frame.kind == kind) & frame[f"observed_{horizon}"].astype(bool)]
    got = (seen.remedy == remedy) & ((seen.band == band) | (band == ANY))
    rows = seen[got | (seen.remedy == NONE)]
    return rows.assign(treated=got[got | (seen.remedy == NONE)].astype(int))


def estimate(rows: pd.DataFrame, horizon: int, rules: RemedyRules) -> Estimate | str:
    """The estimate for one comparison, or why there is none."""
    n_t = int(rows.treated.sum())
    n_c = len(rows) - n_t
    if n_t < rules.min_treated or n_c < rules.min_control:
        return (
            f"too few cases ({n_t} got it, {n_c} got nothing; "
            f"need {rules.min_treated} and {rules.min_control})"
        )
    x, t, y = _arrays(rows, horizon)
    return att(x, t, y, rules.folds, rules.seed, rules.level)


def check_horizon(rules: RemedyRules, horizon: int | None) -> int:
    if horizon is None:
        return rules.horizons[0]
    if horizon not in rules.horizons:
        known = ", ".join(str(h) for h in rules.horizons)
        raise ConfigError(f"horizon {horizon}: not one of the remedies rules' horizons ({known})")
    return horizon


def qini_for(
    frame: pd.DataFrame, kind: str, remedy: str, horizon: int, rules: RemedyRules
) -> Qini | str:
    """The Qini curve of a two-model uplift score for ``remedy`` (any amount) vs nothing."""
    rows = arm(frame, kind, remedy, ANY, horizon)
    found = estimate(rows, horizon, rules)
    if isinstance(found, str):
        return found
    x, t, y = _arrays(rows, horizon)
    return qini(x, t, y, rules.folds, rules.seed)
