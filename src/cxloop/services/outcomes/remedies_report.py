"""The remedies report: uplift per failure kind, remedy and amount band next to the
empowerment policy's limits, what it means for them, the customers behind each figure,
and "what worked before" for the recommender."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from cxloop.domain.policy import Policy
from cxloop.domain.recovery import Worked
from cxloop.domain.remedies import MONETARY, Remedy
from cxloop.domain.uplift import Estimate
from cxloop.errors import NotFoundError
from cxloop.services.outcomes.remedies import (
    ANY,
    NONE,
    arm,
    check_horizon,
    estimate,
    failure_frame,
    policy_bands,
    rules_of,
    with_bands,
)
from cxloop.services.outcomes.remedies_rules import RemedyRules
from cxloop.workspace.workspace import Workspace

COLUMNS = (
    "kind",
    "remedy",
    "band",
    "band_top",
    "policy_limit",
    "horizon_days",
    "n_treated",
    "n_control",
    "rate_treated",
    "rate_control",
    "naive",
    "uplift",
    "low",
    "high",
    "note",
)


_FRAMES: dict[tuple[object, ...], pd.DataFrame] = {}  # the last few, by store and log version


def frame_of(ws: Workspace, policy: Policy, rules: RemedyRules | None = None) -> pd.DataFrame:
    """The failure table with amount bands; the same store, log version, clock, promise
    rules, policy and remedies rules give the table computed before (a copy)."""
    rules = rules or rules_of(ws)
    key = (
        str(ws.home),
        ws.engine,
        ws.log.version,
        ws.clock.now(),
        str(ws.settings.rules),
        policy.digest,
        rules,
    )
    if key not in _FRAMES:
        while len(_FRAMES) >= 4:
            _FRAMES.pop(next(iter(_FRAMES)))
        _FRAMES[key] = with_bands(failure_frame(ws, rules), policy)
    return _FRAMES[key].copy()


def _arms(
    frame: pd.DataFrame, policy: Policy, kind: str, horizon: int
) -> list[tuple[str, str, float, str]]:
    """(remedy, band, band top, policy lines) that failures of ``kind`` observed for
    ``horizon`` got, bands in order; a money remedy in several bands also gets ``any``."""
    out = []
    seen_h = frame[f"observed_{horizon}"].astype(bool)
    got = frame[(frame.kind == kind) & (frame.remedy != NONE) & seen_h]
    for remedy in sorted(got.remedy.unique()):
        seen = set(got[got.remedy == remedy].band)
        bands = [b for b in policy_bands(policy, remedy) if b.name in seen]
        if len(bands) > 1:
            out.append((remedy, ANY, math.inf, ""))
        out += [(remedy, b.name, b.high, b.limit) for b in bands]
    return out


def _row(
    kind: str, arm_: tuple[str, str, float, str], horizon: int, found: Estimate | str
) -> dict[str, Any]:
    remedy, band, top, limit = arm_
    row: dict[str, Any] = dict(
        kind=kind, remedy=remedy, band=band, band_top=top, policy_limit=limit, horizon_days=horizon
    )
    if isinstance(found, str):
        return row | {"note": found}
    return (
        row
        | {
            k: getattr(found, k)
            for k in ("n_treated", "n_control", "rate_treated", "rate_control", "naive")
        }
        | {"uplift": found.uplift, "low": found.low, "high": found.high, "note": ""}
    )


def uplift_table(
    frame: pd.DataFrame,
    policy: Policy,
    rules: RemedyRules,
    horizon: int | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """One row per failure kind, remedy and amount band: the uplift on retention within
    ``horizon`` days against failures of the same kind that got nothing (or why not)."""
    h = check_horizon(rules, horizon)
    kinds = [kind] if kind else sorted(frame.kind.unique())
    rows = []
    for k in kinds:
        for a in _arms(frame, policy, k, h):
            sample = arm(frame, k, a[0], a[1], h)
            found = estimate(sample, h, rules)
            row = _row(k, a, h, found)
            if isinstance(found, str):
                row["n_treated"] = int(sample.treated.sum())
                row["n_control"] = int(len(sample) - sample.treated.sum())
            rows.append(row)
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["band_top"] = out.band_top.replace(math.inf, None)
    return out


def policy_reading(table: pd.DataFrame, currency: str) -> list[str]:
    """What the bands say about the policy's limits, one sentence per money remedy."""
    lines = []
    money = table[table.remedy.isin([r.value for r in MONETARY]) & (table.band != ANY)]
    for (kind, remedy), rows in money.groupby(["kind", "remedy"], sort=True):
        done = rows[rows.uplift.notna()]
        if len(done) < 2:
            what = f"only {done.band.iloc[0]}" if len(done) else "no band"
            lines.append(f"{kind} failures, {remedy}: {what} has enough cases to estimate.")
            continue
        prev = done.iloc[0]
        for _, cur in done.iloc[1:].iterrows():
            se = math.hypot(prev.high - prev.low, cur.high - cur.low) / (2 * 1.96)
            gain = cur.uplift - prev.uplift
            verdict = "did not" if gain - 1.96 * se <= 0 else "did"
            lines.append(
                f"{kind} failures, {remedy}: grants above {prev.band_top:g} {currency} "
                f"({prev.policy_limit}'s limit) {verdict} retain more than grants up to it: "
                f"{gain:+.1%} (95% CI {gain - 1.96 * se:+.1%} to {gain + 1.96 * se:+.1%})."
            )
            prev = cur
    return lines


def customers(
    frame: pd.DataFrame,
    rules: RemedyRules,
    kind: str,
    remedy: str,
    band: str = ANY,
    horizon: int | None = None,
    group: str = "treated",
) -> pd.DataFrame:
    """The failures behind one figure: the treated (got ``remedy`` in ``band``) or the
    comparison (same kind, got nothing), observed for the horizon; ``retained`` averages
    to the figure's rate (the comparison's before reweighting)."""
    h = check_horizon(rules, horizon)
    if remedy not in {r.value for r in Remedy}:
        raise NotFoundError(f"remedy {remedy!r}: not a remedy ({', '.join(r for r in Remedy)})")
    rows = arm(frame, kind, remedy, band, h)
    rows = rows[rows.treated == (1 if group == "treated" else 0)]
    cols = ["customer_id", "promise_id", "subject", "failed_at", "remedy", "amount", "band"]
    return rows[cols].assign(retained=rows[f"retained_{h}"].astype(bool)).reset_index(drop=True)


def what_worked(
    frame: pd.DataFrame, policy: Policy, rules: RemedyRules, kind: str
) -> tuple[tuple[Worked, ...], str]:
    """The estimated uplift of each remedy band that failures of ``kind`` got, with enough
    cases; and, when there are none, why."""
    table = uplift_table(frame, policy, rules, None, kind)
    done = table[table.uplift.notna() & (table.band != ANY)]
    worked = tuple(
        Worked(
            r.remedy,
            r.band,
            math.inf if pd.isna(r.band_top) else float(r.band_top),
            float(r.uplift),
            float(r.low),
            float(r.high),
            int(r.n_treated),
        )
        for r in done.itertuples()
    )
    if worked:
        return worked, ""
    if table.empty:
        return (), f"no past {kind} failure got a remedy"
    return (), f"too little history for {kind} failures ({table.note.iloc[0]})"
