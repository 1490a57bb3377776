"""Journeys (docs/journeys.md): the journey map, one customer's path, where it tanks, and
the customers behind every figure.

The stages come from the ``journeys`` setting's TOML file, else the built-in commerce
stages (``rules/journeys.toml``). Entries, scores, factors and their counts run on the
workspace's engine (:mod:`cxloop.analytics.journeys`); the statistics, the sentiment and
the keywords of the texts run here on the (small) results.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxloop.analytics import journeys as jx
from cxloop.domain.journeys import Journey, Table2x2, adjust, associate, journey_from_dict, testable
from cxloop.errors import ConfigError, NotFoundError
from cxloop.workspace.config import read_toml
from cxloop.workspace.workspace import Workspace

OUTCOMES = ("drop", "low score")
WHICH = ("reached", "dropped", "low score")


def load_journey(ws: Workspace) -> Journey:
    """The stages in use: the ``journeys`` setting's file, else the built-in ones."""
    data, where = read_toml(ws.settings.journeys, "journeys.toml", "journeys")
    return journey_from_dict(data, where)


class Journeys:
    """The journey of every customer as of the store's clock (or ``as_of``)."""

    def __init__(self, ws: Workspace, as_of: datetime | None = None) -> None:
        self.ws = ws
        self.journey = load_journey(ws)
        self.as_of = as_of or ws.clock.now()
        self.min_count = ws.settings.journey_min_count
        self._cached: list[ir.Table] = []

    def _cache(self, expr: ir.Table) -> ir.Table:
        t = self.ws.cache(expr)
        self._cached.append(t)
        return t

    @cached_property
    def events(self) -> ir.Table:
        return self.ws.events()

    @cached_property
    def entries(self) -> ir.Table:
        return self._cache(jx.entries(self.events, self.journey, self.as_of))

    @cached_property
    def scored(self) -> ir.Table:
        return self._cache(jx.stage_scores(self.events, self.entries, self.ws.scales, self.as_of))

    @cached_property
    def outcomes(self) -> ir.Table:
        return self._cache(jx.outcomes(self.entries, self.scored, self.journey))

    def close(self) -> None:
        for t in self._cached:
            t.release()
        self._cached.clear()

    def __enter__(self) -> Journeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the map
    def stage_map(self) -> pd.DataFrame:
        """One row per stage: customers reaching it, median hours from the stage it
        follows, those who did not reach the next stage, and the scores given there."""
        e = self.entries
        reach = e.group_by("stage").aggregate(
            customers=e.count(),
            median_hours_from_previous=jx.hours(e.entered_at, e.anchor_at).median().round(6),
            late=ibis.ifelse(e.late, 1, 0).sum().cast("int64"),
        )
        s = self.scored
        scores = s.group_by("stage").aggregate(
            scores=s.count(),
            mean_score_0_100=s.norm.mean(),
            low_score_share=ibis.ifelse(s.low, 1, 0).sum().cast("float64")
            / s.count().cast("float64"),
        )
        o = self.outcomes
        drops = jx.outcome_totals(o.filter(o.outcome == "drop")).drop("customers")
        df = pd.DataFrame({"stage": self.journey.names})
        for part in (reach.execute(), scores.execute(), drops.execute()):
            part = part.drop(columns=["outcome"], errors="ignore")
            df = df.merge(part.rename(columns={"hits": "dropped"}), on="stage", how="left")
        return self._shape_map(df)

    def _shape_map(self, df: pd.DataFrame) -> pd.DataFrame:
        first = float(df["customers"].iloc[0] or 0)
        rows = []
        for stage, r in zip(self.journey.stages, df.to_dict("records"), strict=True):
            nxt = self.journey.next_stage(stage.name)
            customers = int(r["customers"]) if pd.notna(r["customers"]) else 0
            dropped = int(r["dropped"]) if nxt is not None and pd.notna(r["dropped"]) else None
            rows.append(
                {
                    "stage": stage.name,
                    "follows": stage.after,
                    "optional": stage.optional,
                    "customers": customers,
                    "share_of_first": customers / first if first else None,
                    "median_hours_from_previous": r["median_hours_from_previous"],
                    "late": int(r["late"]) if stage.due and pd.notna(r["late"]) else None,
                    "next_stage": nxt.name if nxt else None,
                    "dropped": dropped,
                    "drop_rate": dropped / customers if dropped is not None and customers else None,
                    "scores": int(r["scores"]) if pd.notna(r["scores"]) else 0,
                    "mean_score_0_100": r["mean_score_0_100"],
                    "low_score_share": r["low_score_share"],
                }
            )
        df = pd.DataFrame(rows)
        for col in ("late", "dropped"):
            df[col] = df[col].astype("Int64")
        return df

    def stage_scores(self) -> pd.DataFrame:
        """Per stage and metric (csat, ces, nps, review ...): answers, mean, low share."""
        s = self.scored
        out = s.group_by(["stage", "metric"]).aggregate(
            answers=s.count(),
            mean=s.score.mean(),
            low_share=ibis.ifelse(s.low, 1, 0).sum().cast("float64") / s.count().cast("float64"),
        )
        df = out.execute()
        order = {n: i for i, n in enumerate(self.journey.names)}
        df["o"] = df["stage"].map(order)
        return df.sort_values(["o", "metric"]).drop(columns="o").reset_index(drop=True)

    # ------------------------------------------------------------------ one customer
    def path(self, customer_id: str) -> pd.DataFrame:
        """The customer's stages in the order entered, with the times between them."""
        e = self.entries.filter(self.entries.customer_id == customer_id)
        df = e.select(
            "stage",
            "entered_at",
            "left_at",
            "event_id",
            "ref",
            "late",
            hours_from_previous=jx.hours(e.entered_at, e.anchor_at),
        ).execute()
        if df.empty:
            raise NotFoundError(f"customer {customer_id!r} entered no journey stage")
        return df.sort_values("entered_at", kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ drill-down
    def customers(
        self, stage: str, which: str = "reached", factor: str | None = None
    ) -> pd.DataFrame:
        """The customers behind a figure: those who ``reached`` a stage, ``dropped`` there
        (did not reach the next) or gave a ``low score`` there; with ``factor``, only those
        who also had it (the with-factor cell of where it tanks)."""
        self.journey.stage(stage)
        if which not in WHICH:
            raise ConfigError(f"which must be one of {', '.join(WHICH)}, got {which!r}")
        o = self.outcomes
        if which == "reached":
            rows = self.entries.filter(self.entries.stage == stage)
            rows = rows.select("customer_id", "entered_at")
        else:
            outcome = "drop" if which == "dropped" else "low score"
            if outcome == "drop" and self.journey.next_stage(stage) is None:
                raise ConfigError(f"stage {stage!r} is the last: nobody drops off after it")
            rows = o.filter((o.stage == stage) & (o.outcome == outcome) & o.hit)
            rows = rows.select("customer_id", "entered_at")
        if factor is not None:
            rows = self._with_factor(rows, stage, factor)
        return rows.order_by(["entered_at", "customer_id"]).execute()

    def _with_factor(self, rows: ir.Table, stage: str, factor: str) -> ir.Table:
        fac = jx.factors(self.events, self.entries, self.journey, self.as_of)
        i = self.journey.index(stage)
        f = fac.filter((fac.factor == factor) & (fac.stage_index <= i))
        f = f.select(f_customer=f.customer_id, f_at=f.stage_at).distinct()
        j = rows.join(f, (rows.customer_id == f.f_customer) & (f.f_at <= rows.entered_at))
        return j.select("customer_id", "entered_at").distinct()

    # ------------------------------------------------------------------ where it tanks
    def tanks(self, outcome: str | None = None, fdr: float = 0.05) -> pd.DataFrame:
        """Per stage, the factors that go with dropping off or a low score: rates with
        and without, difference and odds ratio with 95% intervals, Fisher p, BH q."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ConfigError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        o = (
            self.outcomes
            if outcome is None
            else self.outcomes.filter(self.outcomes.outcome == outcome)
        )
        fac = jx.factors(self.events, self.entries, self.journey, self.as_of)
        counts = jx.factor_counts(o, fac, self.entries, self.journey, self.min_count).execute()
        totals = jx.outcome_totals(o).execute()
        df = counts.merge(totals, on=["stage", "outcome"])
        rows = []
        for r in df.to_dict("records"):
            a, n_f = int(r["a"]), int(r["with_factor"])
            t = Table2x2(
                a, n_f - a, int(r["hits"]) - a, int(r["customers"]) - n_f - int(r["hits"]) + a
            )
            if testable(t, self.min_count):
                rows.append({**r, "without_factor": t.without_factor, **_stats(t)})
        return _finish(rows, fdr, self.journey.names)

    def worst_stage(self, days: int = 7) -> dict[str, Any] | None:
        """The stage whose scores in the ``days`` up to now were the lowest (largest share
        of low scores, at least ``journey_min_count`` scores), with the low scorers."""
        s = self.scored
        since = self.as_of - timedelta(days=days)
        week = s.filter(s.ts > since)
        per = (
            week.group_by("stage")
            .aggregate(scores=week.count(), low=ibis.ifelse(week.low, 1, 0).sum().cast("int64"))
            .execute()
        )
        per = per[per["scores"] >= self.min_count]
        if per.empty:
            return None
        per = per.assign(low_share=per["low"] / per["scores"]).sort_values(
            ["low_share", "scores"], ascending=False
        )
        top = per.iloc[0]
        low = week.filter((week.stage == top["stage"]) & week.low)
        ids = sorted(set(low.customer_id.execute()))
        return {
            "stage": str(top["stage"]),
            "days": days,
            "scores": int(top["scores"]),
            "low_scores": int(top["low"]),
            "low_share": float(top["low_share"]),
            "customer_ids": ids,
        }


def _stats(t: Table2x2) -> dict[str, float]:
    return asdict(associate(t))


def _finish(rows: list[dict[str, Any]], fdr: float, names: list[str]) -> pd.DataFrame:
    columns = [
        "stage", "outcome", "factor", "with_factor", "a", "without_factor", "rate_with",
        "rate_without", "difference", "diff_low", "diff_high", "odds_ratio", "or_low",
        "or_high", "p_value", "q_value", "significant",
    ]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    df["q_value"] = adjust(df["p_value"].tolist())
    df["significant"] = df["q_value"] <= fdr
    df["o"] = df["stage"].map({n: i for i, n in enumerate(names)})
    # ties (equal q and odds ratio) broken by the factor's name: every engine returns the
    # factors in its own order, and the findings must not depend on it
    df = df.sort_values(
        ["o", "outcome", "q_value", "odds_ratio", "factor"],
        ascending=[True, True, True, False, True],
        kind="stable",
    )
    return df.rename(columns={"a": "with_factor_and_outcome"})[
        [c if c != "a" else "with_factor_and_outcome" for c in columns]
    ].reset_index(drop=True)
