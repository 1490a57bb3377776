"""The effect of a treatment (a broken promise) on an outcome, doubly robust: numerics only.

:func:`aipw` is the cross-fitted augmented inverse-propensity-weighted estimator: in each
of ``folds`` folds a propensity model (logistic regression on what was known before the
promise) and one outcome model per arm (logistic for a yes/no outcome, ridge regression
for a number) are fitted on the other folds and predict this one; the estimate is the mean
of the efficient influence function, and its 95% interval is the estimate ± 1.96 standard
errors of that mean. Propensities are clipped to [0.01, 0.99]. The naive difference of
means is reported beside it, and the E-value (VanderWeele and Ding, 2017) says how strong
an unmeasured confounder would have to be, on the risk-ratio scale with both the treatment
and the outcome, to explain the estimate away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Z95 = 1.959963984540054
CLIP = 0.01
PENALTY = 0.1  # inverse L2 strength on standardised covariates: few treated, many columns


@dataclass(frozen=True)
class Effect:
    n: int
    n_treated: int
    naive: float
    naive_low: float
    naive_high: float
    mean_treated: float  # the outcome's mean had everyone been treated (doubly robust)
    mean_control: float
    effect: float  # on the treated (att) or on everyone (ate)
    low: float
    high: float
    ratio: float | None  # mean_treated / mean_control, for a non-negative outcome
    e_value: float
    e_value_ci: float
    propensity_min: float
    propensity_max: float


def _models(binary: bool) -> tuple[object, object]:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ps = make_pipeline(StandardScaler(), LogisticRegression(C=PENALTY, max_iter=2000))
    out = (
        make_pipeline(StandardScaler(), LogisticRegression(C=PENALTY, max_iter=2000))
        if binary
        else make_pipeline(StandardScaler(), Ridge(alpha=1 / PENALTY))
    )
    return ps, out


def _fit_predict(model: object, x: F64, y: F64, x_new: F64, binary: bool) -> F64:
    from sklearn.base import clone

    if binary and len(np.unique(y)) < 2:  # one class only: predict it
        return np.full(len(x_new), float(y[0]) if len(y) else 0.0)
    m = clone(model)
    m.fit(x, y)
    if binary:
        return np.asarray(m.predict_proba(x_new)[:, 1], dtype=np.float64)
    return np.asarray(m.predict(x_new), dtype=np.float64)


def _cross_fit(x: F64, t: F64, y: F64, folds: int, seed: int, binary: bool) -> tuple[F64, F64, F64]:
    from sklearn.model_selection import StratifiedKFold

    ps_model, out_model = _models(binary)
    e, mu1, mu0 = (np.zeros(len(t)) for _ in range(3))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in split.split(x, t.astype(int)):
        xt, tt, yt = x[train], t[train], y[train]
        e[test] = _fit_predict(ps_model, xt, tt, x[test], True)
        on, off = tt == 1, tt == 0
        mu1[test] = _fit_predict(out_model, xt[on], yt[on], x[test], binary)
        mu0[test] = _fit_predict(out_model, xt[off], yt[off], x[test], binary)
    return np.clip(e, CLIP, 1 - CLIP), mu1, mu0


def e_value(rr: float) -> float:
    """The E-value of a risk ratio (its inverse when below 1)."""
    if not math.isfinite(rr) or rr <= 0:
        return float("nan")
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def _e_values(
    ratio: float | None, low_ratio: float | None, high_ratio: float | None
) -> tuple[float, float]:
    if ratio is None or low_ratio is None or high_ratio is None:
        return float("nan"), float("nan")
    point = e_value(ratio)
    if low_ratio <= 1 <= high_ratio:
        return point, 1.0
    return point, e_value(low_ratio if ratio > 1 else high_ratio)


def _naive(t: F64, y: F64) -> tuple[float, float, float]:
    a, b = y[t == 1], y[t == 0]
    diff = float(a.mean() - b.mean())
    se = (
        math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        if min(len(a), len(b)) > 1
        else math.nan
    )
    return diff, diff - Z95 * se, diff + Z95 * se


def _att_terms(t: F64, y: F64, e: F64, mu0: F64) -> tuple[F64, F64]:
    """Per-unit terms whose means are the treated's mean outcome and their doubly robust
    counterfactual mean (their difference's mean is the effect on the treated, and its
    standard deviation gives the influence-function interval)."""
    p = t.mean()
    psi1 = t * y / p
    psi0 = (t * mu0 + (1 - t) * e / (1 - e) * (y - mu0)) / p
    # centre the treated share's own variability (the estimating equation's derivative)
    att = psi1.mean() - psi0.mean()
    psi1 = psi1 - t * att / p + att
    return psi1, psi0


def aipw(
    x: F64,
    t: F64,
    y: F64,
    *,
    binary: bool,
    folds: int = 5,
    seed: int = 0,
    estimand: str = "att",
) -> Effect:
    """The doubly robust effect of ``t`` (0/1) on ``y`` given covariates ``x``: on the
    treated (``att``, the default) or on everyone (``ate``)."""
    n, n1 = len(t), int(t.sum())
    if n1 < folds or n - n1 < folds:
        raise ValueError(f"too few: {n1} treated, {n - n1} reference (need {folds} each)")
    e, mu1, mu0 = _cross_fit(x, t, y, folds, seed, binary)
    if estimand == "att":
        psi1, psi0 = _att_terms(t, y, e, mu0)
    else:
        psi1 = mu1 + t * (y - mu1) / e
        psi0 = mu0 + (1 - t) * (y - mu0) / (1 - e)
    m1, m0 = float(psi1.mean()), float(psi0.mean())
    ate = m1 - m0
    se = float(np.std(psi1 - psi0, ddof=1) / math.sqrt(n))
    ratio = low_r = high_r = None
    if m1 > 0 and m0 > 0 and (y >= 0).all():
        ratio = m1 / m0
        if binary:
            # the interval of the log ratio from the influence functions (delta method)
            se_log = float(np.std(psi1 / m1 - psi0 / m0, ddof=1) / math.sqrt(n))
            low_r, high_r = ratio * math.exp(-Z95 * se_log), ratio * math.exp(Z95 * se_log)
    if not binary:
        # a mean difference as an approximate risk ratio: exp(0.91 * d), d standardised
        sd = float(np.std(y, ddof=1)) or 1.0
        low_r, ratio_d, high_r = (
            math.exp(0.91 * v / sd) for v in (ate - Z95 * se, ate, ate + Z95 * se)
        )
        ev, ev_ci = _e_values(ratio_d, low_r, high_r)
    else:
        ev, ev_ci = _e_values(ratio, low_r, high_r)
    naive, n_low, n_high = _naive(t, y)
    return Effect(
        n=n,
        n_treated=n1,
        naive=naive,
        naive_low=n_low,
        naive_high=n_high,
        mean_treated=m1,
        mean_control=m0,
        effect=ate,
        low=ate - Z95 * se,
        high=ate + Z95 * se,
        ratio=ratio,
        e_value=ev,
        e_value_ci=ev_ci,
        propensity_min=float(e.min()),
        propensity_max=float(e.max()),
    )
