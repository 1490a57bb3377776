"""What the voice means: emerging issues, key drivers, and customers' and employees' voice
side by side per policy, practice, product or service. See docs/voice.md for the methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxloop.domain.promises import PromiseState
from cxloop.domain.stats import bh_qvalues, binom_sf
from cxloop.errors import ConfigError
from cxloop.services.voice.analysis import SCORED, Voice
from cxloop.services.voice.subjects import Subject, load_subjects, subject_texts

__all__ = [
    "Subject",
    "compare",
    "drivers",
    "emerging",
    "load_subjects",
    "most_negative",
    "side_by_side",
    "subject_texts",
    "verdict",
]

EMERGING_METHOD = (
    "Per topic, the latest period against the baseline before it: volume = the topic's "
    "share of all customer texts, negativity = the share of the topic's texts that are "
    "negative. Each is a one-sided exact binomial test of the latest count against the "
    "baseline rate (add-half smoothed), Benjamini-Hochberg FDR across all tests; emerging "
    "when q <= {alpha} and the rate rose at least {lift}x with at least {min_texts} texts."
)
DRIVERS_METHOD = (
    "Scores on 0-100 (each scale's lowest answer 0, highest 100). Per driver: mean with vs "
    "without (difference with a Welch 95% interval, Cohen's d), and the coefficient of one "
    "least-squares model of the score on every driver at once plus the survey metric "
    "(HC1 robust standard errors, normal p-values). Reference: answers whose promises were "
    "kept on time (or had none), without a comment or on a smaller topic. Impact = "
    "coefficient x share of answers with the driver: points of the average score it moves."
)


# ------------------------------------------------------------------ emerging issues
def emerging(
    v: Voice,
    period: timedelta = timedelta(days=28),
    baseline: timedelta | None = timedelta(days=168),
    *,
    as_of: datetime | None = None,
    alpha: float = 0.05,
    lift: float = 1.5,
    min_texts: int = 5,
) -> pd.DataFrame:
    """Topics whose volume or negativity rose significantly in the period up to ``as_of``
    (default: the store's clock), against the baseline before it."""
    model, topic = v.topic_model
    rows = v.customer_texts.assign(topic=topic).join(v.sentiment[["sentiment"]])
    end = pd.Timestamp(as_of or v.as_of).tz_localize(None)
    start = end - pd.Timedelta(period)
    latest = rows[(rows["ts"] > start) & (rows["ts"] <= end)]
    base = rows[rows["ts"] <= start]
    if baseline is not None:
        base = base[base["ts"] > start - pd.Timedelta(baseline)]
    n1, n0 = len(latest), len(base)
    tests: list[dict[str, Any]] = []
    for t in model.topics:
        k1 = int((latest["topic"] == t.topic).sum())
        k0 = int((base["topic"] == t.topic).sum())
        neg1 = int(((latest["topic"] == t.topic) & (latest["sentiment"] == "negative")).sum())
        neg0 = int(((base["topic"] == t.topic) & (base["sentiment"] == "negative")).sum())
        common = {"topic": t.topic, "label": t.label, "latest_texts": k1, "baseline_texts": k0}
        if k1 >= min_texts and n1 and n0:
            p0 = (k0 + 0.5) / (n0 + 1)
            tests.append(
                common
                | {
                    "kind": "volume",
                    "latest_rate": k1 / n1,
                    "baseline_rate": k0 / n0,
                    "lift": (k1 / n1) / p0,
                    "p": binom_sf(k1, n1, p0),
                }
            )
            q0 = (neg0 + 0.5) / (k0 + 1)
            tests.append(
                common
                | {
                    "kind": "negativity",
                    "latest_rate": neg1 / k1,
                    "baseline_rate": neg0 / k0 if k0 else math.nan,
                    "lift": (neg1 / k1) / q0,
                    "p": binom_sf(neg1, k1, q0),
                }
            )
    out = pd.DataFrame(tests)
    method = EMERGING_METHOD.format(alpha=alpha, lift=lift, min_texts=min_texts)
    if out.empty:
        out = pd.DataFrame(columns=["topic", "label", "kind", "emerging"])
    else:
        out["q"] = bh_qvalues(out["p"].tolist())
        out["emerging"] = (out["q"] <= alpha) & (out["lift"] >= lift)
        examples = {
            t: latest[latest["topic"] == t]
            .sort_values("ts", ascending=False)["text"]
            .drop_duplicates()
            .head(3)
            .tolist()
            for t in out["topic"].unique()
        }
        out["examples"] = out["topic"].map(examples)
        out = out.sort_values(["emerging", "q"], ascending=[False, True], kind="stable")
    out.attrs |= {
        "method": method,
        "latest": {"from": start.isoformat(), "to": end.isoformat(), "texts": n1},
        "baseline": {
            "from": (start - pd.Timedelta(baseline)).isoformat() if baseline else None,
            "to": start.isoformat(),
            "texts": n0,
        },
    }
    return out.reset_index(drop=True)


# ------------------------------------------------------------------ most negative
def most_negative(rows: pd.DataFrame, days: int = 30, n: int = 10) -> pd.DataFrame:
    """The ``n`` lowest-polarity texts of the last ``days`` (up to the newest text) among
    those scored negative: never a neutral or positive text, even when fewer are left."""
    recent = rows[rows["ts"] > rows["ts"].max() - pd.Timedelta(days=days)]
    negative = recent[(recent["sentiment"] == "negative") & (recent["polarity"] < 0)]
    return negative.sort_values("polarity", kind="stable").head(n)


# ------------------------------------------------------------------ drivers
def _outcomes(v: Voice, answers: pd.DataFrame) -> pd.DataFrame:
    """Per answer, what had happened to the promises on its order when it was given: broken,
    exceeded, kept but slower than usual, or still open. Kept on time (or no promise) is the
    reference."""
    keyed = answers.rename_axis("_answer").reset_index()[["_answer", "customer_id", "ref", "ts"]]
    j = keyed.merge(v.promises, on=["customer_id", "ref"], how="inner")
    known = j["known_at"].notna() & (j["known_at"] <= j["ts"])
    state = j["state"]
    flags: dict[str, pd.Series] = {}
    for k in sorted(j["kind"].unique()):
        kind = j["kind"] == k
        flags[f"broken {k} promise"] = kind & known & (state == PromiseState.BROKEN.value)
        flags[f"exceeded {k} promise"] = kind & known & (state == PromiseState.EXCEEDED.value)
        flags[f"{k} promise still open when answered"] = kind & ~known
    kept = state.isin([PromiseState.KEPT.value, PromiseState.EXCEEDED.value])
    slower = j["below_baseline"].astype("boolean").fillna(False).astype(bool)
    flags["kept, but slower than this customer is used to"] = known & kept & slower
    hits = pd.DataFrame(flags).groupby(j["_answer"]).any()
    return hits.reindex(answers.index, fill_value=False).astype(bool)


@dataclass(frozen=True)
class _Fit:
    coef: np.ndarray[Any, np.dtype[np.float64]]
    se: np.ndarray[Any, np.dtype[np.float64]]
    p: np.ndarray[Any, np.dtype[np.float64]]


def _ols(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> _Fit:
    """Least squares with HC1 (heteroskedasticity-robust) standard errors and normal
    p-values (statsmodels)."""
    import statsmodels.api as sm

    fit = sm.OLS(y, x).fit(cov_type="HC1")
    return _Fit(np.asarray(fit.params), np.asarray(fit.bse), np.asarray(fit.pvalues))


def _welch(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> tuple[float, float]:
    """The Welch 95% interval of mean(a) - mean(b) (unequal variances; statsmodels)."""
    if len(a) < 2 or len(b) < 2:
        return (math.nan, math.nan)
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(usevar="unequal")
    return (float(low), float(high))


def drivers(v: Voice, metric: str | None = None, min_n: int = 10) -> pd.DataFrame:
    """Which topics and which promise outcomes move the customers' scores, with effect sizes."""
    df = v.frame
    answers = df[(df["voice"] == "customer") & df["metric"].isin(SCORED) & df["norm"].notna()]
    if metric:
        if metric not in SCORED:
            raise ConfigError(f"unknown metric {metric!r} (expected {', '.join(SCORED)})")
        answers = answers[answers["metric"] == metric]
    if len(answers) < 2 * min_n:
        raise ConfigError(f"only {len(answers)} scored answers: too few to estimate drivers")
    features = _outcomes(v, answers)
    if answers["text"].notna().sum() >= min_n:
        model, topic = v.topic_model
        labels = {t.topic: t.label for t in model.topics}
        assigned = topic.reindex(answers.index)
        for t, label in labels.items():
            features[f"topic: {label}"] = (assigned == t).to_numpy()
    kinds = {c: ("topic" if c.startswith("topic: ") else "promise") for c in features}
    features = features.loc[:, features.sum() >= min_n]
    y = answers["norm"].to_numpy(float)
    controls = pd.get_dummies(answers["metric"], drop_first=True, dtype=float)
    x = np.column_stack([np.ones(len(y)), controls.to_numpy(float), features.to_numpy(float)])
    fit = _ols(x, y)
    offset = 1 + controls.shape[1]
    rows = []
    for j, name in enumerate(features.columns):
        with_ = features[name].to_numpy(bool)
        a, b = y[with_], y[~with_]
        diff = a.mean() - b.mean()
        low, high = _welch(a, b)
        pooled = (
            math.sqrt(
                ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1))
                / max(len(a) + len(b) - 2, 1)
            )
            if len(a) > 1
            else math.nan
        )
        coef, cse = float(fit.coef[offset + j]), float(fit.se[offset + j])
        rows.append(
            {
                "driver": name,
                "kind": kinds[name],
                "answers_with": int(with_.sum()),
                "share": float(with_.mean()),
                "mean_with": float(a.mean()),
                "mean_without": float(b.mean()),
                "difference": float(diff),
                "diff_low": low,
                "diff_high": high,
                "cohens_d": float(diff / pooled) if pooled else math.nan,
                "coefficient": coef,
                "coef_low": coef - 1.96 * cse,
                "coef_high": coef + 1.96 * cse,
                "p": float(fit.p[offset + j]) if cse > 0 else math.nan,
                "impact": coef * float(with_.mean()),
            }
        )
    out = pd.DataFrame(rows)
    if not out.empty:
        out = out.sort_values("impact", key=lambda s: -s.abs(), kind="stable")
    out.attrs |= {"method": DRIVERS_METHOD, "answers": len(answers), "mean": float(y.mean())}
    return out.reset_index(drop=True)


# ------------------------------------------------------------------ side by side
def _side(part: pd.DataFrame, who: str) -> dict[str, Any]:
    negative = part[part["sentiment"] == "negative"].sort_values("polarity")
    return {
        f"{who}_texts": len(part),
        f"{who}_people": int(part["customer_id"].nunique()),
        f"{who}_negative_share": float((part["sentiment"] == "negative").mean())
        if len(part)
        else math.nan,
        f"{who}_mean_score": float(part["norm"].mean()) if part["norm"].notna().any() else math.nan,
        f"{who}_examples": negative["text"].drop_duplicates().head(2).tolist()
        or part["text"].drop_duplicates().head(2).tolist(),
    }


def verdict(row: dict[str, Any], usual: dict[str, float], min_texts: int = 5) -> str:
    """Whether customers and employees are negative about a subject: a negative share of at
    least 0.5, or 1.5x what that voice usually is across all its texts."""

    def bad(who: str) -> bool:
        share = row[f"{who}_negative_share"]
        return bool(row[f"{who}_texts"] >= min_texts and share >= min(0.5, 1.5 * usual[who]))

    c_bad, e_bad = bad("customers"), bad("employees")
    if c_bad and e_bad:
        return "both say it hurts: fix it"
    if c_bad:
        return (
            "customers feel it; employees are not saying it"
            if row["employees_texts"] < min_texts
            else "customers feel it; employees see it differently"
        )
    if e_bad:
        return "employees flag it; customers are not (yet) saying it"
    if row["customers_texts"] < min_texts and row["employees_texts"] < min_texts:
        return "too little said"
    return "no clear problem"


def compare(v: Voice, subjects_path: Path | None = None) -> pd.DataFrame:
    """For each subject: what customers say and what employees say, side by side."""
    return side_by_side(*subject_texts(v, subjects_path))


def side_by_side(subjects: list[Subject], texts: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare` from texts already matched to subjects (:func:`subject_texts`)."""
    keys = [s.key for s in subjects]
    staff, subject = texts["voice"] == "employee", texts["subject"]
    usual = {
        "customers": float((texts.loc[~staff, "sentiment"] == "negative").mean()),
        "employees": float((texts.loc[staff, "sentiment"] == "negative").mean()),
    }
    extra = sorted(set(texts.loc[staff, "subject"].dropna()) - set(keys))
    rows = []
    for s in [*subjects, *[Subject(k, "unlisted", "", k, ()) for k in extra]]:
        part = texts[texts["subject"] == s.key]
        row: dict[str, Any] = {
            "subject": s.key,
            "title": s.title,
            "kind": s.kind,
            "department": s.department,
        }
        row |= _side(part[part["voice"] == "customer"], "customers")
        row |= _side(part[part["voice"] == "employee"], "employees")
        row["verdict"] = verdict(row, usual)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs |= {
        "threshold": texts.attrs["threshold"],
        "language": texts.attrs.get("language"),
        "matched_by": texts.attrs.get("matched_by", {}),
        "languages_without_keywords": texts.attrs.get("languages_without_keywords", {}),
        "customer_texts": int((texts["voice"] == "customer").sum()),
        "customer_texts_matched": int(((texts["voice"] == "customer") & subject.notna()).sum()),
        "customer_texts_by_language": {
            str(k): int(n) for k, n in texts.loc[~staff, "lang"].value_counts().items()
        }
        if "lang" in texts
        else {},
        "employee_texts": int(staff.sum()),
        "usual_negative_share": usual,
    }
    return out
