"""Uplift of a remedy on retention: a cross-fitted doubly robust estimate and a Qini curve.

Pure numerics (numpy, scikit-learn, scipy), no I/O. The treated are failures that got a
remedy; the comparison are failures of the same kind that got less or nothing. Both
models are fitted out of fold (``folds``-fold cross-fitting), so no row's prediction comes
from a model that saw it.

- :func:`att` — the effect on the treated (AIPW / doubly robust ATT): the outcome model of
  the comparison group (logistic regression on the pre-failure features) corrects what the
  propensity weights leave, and the other way round; the 95% interval comes from the
  estimator's influence function.
- :func:`qini` — a two-model (T-learner) uplift score per failure, and the Qini curve of
  ranking by it: scikit-learn has no Qini curve, so its few lines are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# scikit-learn and SciPy are imported where a model is fitted or an interval drawn, not
# here: every `cxloop` process imports this module (docs/development.md)

F64 = npt.NDArray[np.float64]
CLIP = 0.02  # propensities are clipped to [CLIP, 1 - CLIP]: no weight beyond 49


@dataclass(frozen=True)
class Estimate:
    """The effect of a remedy on the treated (a difference of retention rates)."""

    uplift: float
    low: float
    high: float
    naive: float  # the plain difference of rates, before adjustment
    n_treated: int
    n_control: int
    rate_treated: float
    rate_control: float  # the comparison group's rate, reweighted to look like the treated


def _model() -> Pipeline:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))


def _fit_predict(x: F64, y: F64, train: npt.NDArray[np.bool_], test: npt.NDArray[np.intp]) -> F64:
    """P(y = 1) for the ``test`` rows from a model fitted on the ``train`` rows; a constant
    where the training outcome has one class."""
    yt = y[train]
    if len(yt) == 0:
        return np.full(len(test), 0.5)
    if yt.min() == yt.max():
        return np.full(len(test), float(yt[0]))
    out: F64 = _model().fit(x[train], yt).predict_proba(x[test])[:, 1]
    return out


def cross_fit(x: F64, t: F64, y: F64, folds: int, seed: int) -> tuple[F64, F64, F64]:
    """Out-of-fold propensity e(x), and outcome models m0(x) (comparison) and m1(x)
    (treated), each fold's models fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    n = len(t)
    e, m0, m1 = np.empty(n), np.empty(n), np.empty(n)
    k = max(2, min(folds, int(t.sum()), int(n - t.sum())))
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in split.split(x, t):
        rows = np.zeros(n, bool)
        rows[train] = True
        e[test] = _fit_predict(x, t, rows, test)
        m0[test] = _fit_predict(x, y, rows & (t == 0), test)
        m1[test] = _fit_predict(x, y, rows & (t == 1), test)
    return np.clip(e, CLIP, 1 - CLIP), m0, m1


def att(x: F64, t: F64, y: F64, folds: int = 5, seed: int = 0, level: float = 0.95) -> Estimate:
    """The doubly robust effect on the treated, with its ``level`` interval."""
    from scipy import stats

    e, m0, _ = cross_fit(x, t, y, folds, seed)
    p = t.mean()
    w = e / (1 - e)
    resid = y - m0
    tau = float((t * resid - (1 - t) * w * resid).sum() / t.sum())
    phi = (t * resid - (1 - t) * w * resid - t * tau) / p
    se = float(phi.std(ddof=1) / np.sqrt(len(t)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    rate_t = float(y[t == 1].mean())
    return Estimate(
        uplift=tau,
        low=tau - z * se,
        high=tau + z * se,
        naive=rate_t - float(y[t == 0].mean()),
        n_treated=int(t.sum()),
        n_control=int(len(t) - t.sum()),
        rate_treated=rate_t,
        rate_control=rate_t - tau,
    )


@dataclass(frozen=True)
class Qini:
    """Ranking failures by predicted uplift: the curve and its coefficient."""

    share: tuple[float, ...]  # share of failures targeted, 0..1
    gain: tuple[float, ...]  # extra customers retained (Qini), as a share of all failures
    coefficient: float  # area between the curve and the random line (0: no better than random)
    scores: F64  # each failure's predicted uplift (cross-fitted T-learner)


def qini_curve(score: F64, t: F64, y: F64, points: int = 50) -> tuple[F64, F64]:
    """Qini curve: Q(k) = Y_t(k) - Y_c(k) N_t(k) / N_c(k) over the top k by ``score``,
    divided by n; returned at about ``points`` shares of the population."""
    order = np.argsort(-score, kind="stable")
    tt, yy = t[order], y[order]
    nt, nc = np.cumsum(tt), np.cumsum(1 - tt)
    yt, yc = np.cumsum(yy * tt), np.cumsum(yy * (1 - tt))
    q = yt - np.divide(yc * nt, nc, out=np.zeros_like(yc), where=nc > 0)
    n = len(t)
    at = np.unique(np.linspace(0, n, min(points, n) + 1).round().astype(int))
    share = at / n
    gain = np.concatenate([[0.0], q[at[1:] - 1]]) / n
    return share, gain


def qini(x: F64, t: F64, y: F64, folds: int = 5, seed: int = 0) -> Qini:
    """The two-model uplift score m1(x) - m0(x), cross-fitted, and its Qini curve."""
    _, m0, m1 = cross_fit(x, t, y, folds, seed)
    score = m1 - m0
    share, gain = qini_curve(score, t, y)
    random_line = share * gain[-1]
    coefficient = float(np.trapezoid(gain - random_line, share))
    return Qini(tuple(share.tolist()), tuple(gain.tolist()), coefficient, score)
