"""Churn models on a table of customers: honest validation, calibration and reasons.

Pure numerics over pandas frames (no files): :func:`prepare` turns a table into
features and a 0/1 label (ids, the label, a time column and constant or id-like columns
are never features; a column that is the label in disguise is refused), :func:`select`
chooses between a regularised logistic regression and gradient boosting by stratified
cross-validation on the training rows only (class weighting happens inside each fold's
fit), :func:`fit_calibrated` calibrates the chosen model, :func:`scores` reports ROC-AUC,
Brier and calibration bins on rows the model never saw, and :func:`reasons` says per
customer which values raise the risk most.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxloop.errors import ConfigError

if TYPE_CHECKING:
    from sklearn.base import ClassifierMixin
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

# scikit-learn (and the SciPy under it) is imported inside the functions that fit or score:
# importing it costs a second of CPU, and every `cxloop` process imports this module
# (docs/development.md, "Where the time goes")

POSITIVE = frozenset({"yes", "y", "true", "t", "1", "churned", "churn", "left", "lost", "exited"})
NEGATIVE = frozenset({"no", "n", "false", "f", "0", "stayed", "retained", "active", "kept"})
LEAK_AUC = 0.97  # one column alone separating the classes this well is the label in disguise
SEED = 0


@dataclass
class Prepared:
    """A table made ready: features, the 0/1 label, and what was left out and why."""

    x: pd.DataFrame
    y: np.ndarray
    numeric: list[str]
    categorical: list[str]
    label_values: dict[str, int]
    dropped: dict[str, str] = field(default_factory=dict)


def label_mapping(
    values: Iterable[Any], column: str, positive: str | None = None
) -> dict[str, int]:
    """Map the label's distinct values to 1 (churned) and 0 (stayed): Yes/No, True/False,
    1/0, churned/stayed; ``positive`` names the churn value where the words are not known."""
    seen = sorted({_norm(v) for v in values})
    if len(seen) < 2:
        raise ConfigError(
            f"label {column!r} has one value only ({', '.join(seen) or 'none'}): "
            "a churn model needs customers who left and customers who stayed"
        )
    if len(seen) > 2:
        raise ConfigError(
            f"label {column!r} has {len(seen)} values ({_show(seen)}); expected two "
            "(yes/no, true/false, 1/0, churned/stayed)"
        )
    if positive is not None:
        pos = _norm(positive)
        if pos not in seen:
            raise ConfigError(
                f"--positive {positive!r} is not a value of {column!r} ({_show(seen)})"
            )
        return {v: int(v == pos) for v in seen}
    known = {v: 1 for v in seen if v in POSITIVE} | {v: 0 for v in seen if v in NEGATIVE}
    if len(known) != 2 or set(known.values()) != {0, 1}:
        raise ConfigError(
            f"label {column!r}: cannot tell which of {_show(seen)} means churned; "
            "name it with --positive VALUE"
        )
    return known


def _norm(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def _show(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values[:8]) + (" ..." if len(values) > 8 else "")


def prepare(
    df: pd.DataFrame,
    *,
    id_col: str,
    label: str | None,
    label_values: dict[str, int] | None = None,
    exclude: Sequence[str] = (),
    positive: str | None = None,
) -> Prepared:
    """Features and label from ``df``. Without ``label`` (predicting) ``y`` is empty."""
    skip = {id_col, *exclude} | ({label} if label else set())
    x = df[[c for c in df.columns if c not in skip]].copy()
    dropped: dict[str, str] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    for col in list(x.columns):
        kind, values = _typed(x[col])
        why = _unusable(values, kind, len(x))
        if why:
            dropped[col] = why
            x = x.drop(columns=col)
            continue
        x[col] = values
        (numeric if kind == "numeric" else categorical).append(col)
    if not numeric and not categorical:
        raise ConfigError("the table has no usable feature columns (besides the id and label)")
    y = np.zeros(0, dtype=int)
    if label is not None:
        mapping = label_values or label_mapping(df[label].dropna().unique(), label, positive)
        y = df[label].map(lambda v: mapping.get(_norm(v), -1)).to_numpy()
        label_values = mapping
    return Prepared(x, y, numeric, categorical, label_values or {}, dropped)


def _typed(s: pd.Series) -> tuple[str, pd.Series]:
    """Numeric or categorical; text that is mostly numbers ("29.85", " " for blank) is numeric."""
    if pd.api.types.is_bool_dtype(s):
        return "numeric", s.astype(float)
    if pd.api.types.is_numeric_dtype(s):
        return "numeric", s.astype(float)
    text = s.astype("string").str.strip().replace("", pd.NA)
    as_num = pd.to_numeric(text, errors="coerce")
    present = text.notna().sum()
    if present and as_num.notna().sum() >= 0.95 * present:
        return "numeric", as_num.astype(float)
    return "categorical", text.astype(object).where(text.notna(), np.nan)


def _unusable(s: pd.Series, kind: str, n: int) -> str:
    present = s.dropna()
    if present.empty:
        return "blank in every row"
    if present.nunique() == 1 and s.isna().sum() == 0:
        return "the same value in every row"
    if kind == "categorical" and present.nunique() > max(50, 0.5 * n):
        return f"{present.nunique():,} distinct values: an identifier, not a feature"
    return ""


def leaks(p: Prepared, label: str) -> dict[str, str]:
    """Columns that are the label in disguise: named like it, or separating the classes
    alone with ROC-AUC >= LEAK_AUC (categories scored out of fold, so a many-valued column
    cannot look perfect by memorising)."""
    found: dict[str, str] = {}
    stem = re.sub(r"[^a-z0-9]", "", label.lower())
    for col in p.numeric + p.categorical:
        name = re.sub(r"[^a-z0-9]", "", col.lower())
        if len(stem) >= 4 and stem in name:
            found[col] = f"named like the label {label!r}"
            continue
        auc = single_column_auc(p.x[col], p.y, col in p.categorical)
        if auc >= LEAK_AUC:
            found[col] = f"alone predicts {label!r} with ROC-AUC {auc:.3f}"
    return found


def single_column_auc(s: pd.Series, y: np.ndarray, categorical: bool) -> float:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if categorical:
        score = np.full(len(s), float(y.mean()))
        folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
        for train, test in folds.split(np.zeros(len(y)), y):
            rates = pd.Series(y[train]).groupby(s.iloc[train].fillna("(blank)").to_numpy()).mean()
            score[test] = s.iloc[test].fillna("(blank)").map(rates).fillna(y[train].mean())
    else:
        score = s.fillna(s.median()).to_numpy()
    auc = float(roc_auc_score(y, score))
    return max(auc, 1 - auc)


def candidates(p: Prepared) -> dict[str, Pipeline]:
    """The models tried: each a pipeline whose imputation and encoding are fitted inside
    every training fold, class weighting inside the estimator's own fit."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def columns(scale: bool) -> ColumnTransformer:
        num = [SimpleImputer(strategy="median", add_indicator=True)]
        if scale:
            num.append(StandardScaler())
        cat = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(blank)"),
            OneHotEncoder(handle_unknown="ignore", min_frequency=5, sparse_output=False),
        )
        return ColumnTransformer(
            [("num", make_pipeline(*num), p.numeric), ("cat", cat, p.categorical)]
        )

    lr = LogisticRegression(C=0.3, class_weight="balanced", max_iter=2000)
    hgb = HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        class_weight="balanced",
        random_state=SEED,
    )
    return {
        "logistic_regression": Pipeline([("prep", columns(True)), ("model", lr)]),
        "gradient_boosting": Pipeline([("prep", columns(False)), ("model", hgb)]),
    }


def select(
    p: Prepared, x: pd.DataFrame, y: np.ndarray, folds: int = 5
) -> tuple[str, dict[str, float]]:
    """The candidate with the best mean ROC-AUC over stratified folds of the training rows."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    k = max(2, min(folds, int(np.bincount(y).min())))
    cv = StratifiedKFold(k, shuffle=True, random_state=SEED)
    cv_auc = {
        name: float(cross_val_score(model, x, y, cv=cv, scoring="roc_auc").mean())
        for name, model in candidates(p).items()
    }
    return max(cv_auc, key=lambda n: cv_auc[n]), cv_auc


def fit_calibrated(p: Prepared, name: str, x: pd.DataFrame, y: np.ndarray) -> ClassifierMixin:
    """The chosen pipeline calibrated (sigmoid, cross-fitted): class weighting skews raw
    probabilities, and a risk is read as a probability."""
    from sklearn.calibration import CalibratedClassifierCV

    k = max(2, min(5, int(np.bincount(y).min())))
    # ensemble=False: one model on every row plus a calibrator fitted on out-of-fold
    # predictions; predicting costs one model, not k
    model = CalibratedClassifierCV(candidates(p)[name], method="sigmoid", cv=k, ensemble=False)
    return model.fit(x, y)


def scores(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """ROC-AUC, Brier score and calibration bins (equal-count) of probabilities ``prob``."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, roc_auc_score

    if len(set(y.tolist())) < 2:
        raise ConfigError("cannot score: the rows evaluated hold one class only")
    true, pred = calibration_curve(y, prob, n_bins=bins, strategy="quantile")
    edges = np.quantile(prob, np.linspace(0, 1, bins + 1))
    counts = np.histogram(prob, bins=np.unique(edges))[0] if len(np.unique(edges)) > 1 else [len(y)]
    auc = float(roc_auc_score(y, prob))
    return {
        "roc_auc": round(auc, 4),
        "roc_auc_ci": [round(v, 4) for v in auc_interval(auc, int(y.sum()), int(len(y) - y.sum()))],
        "brier": round(float(brier_score_loss(y, prob)), 4),
        "brier_baseline": round(float(y.mean() * (1 - y.mean())), 4),
        "n": len(y),
        "positives": int(y.sum()),
        "calibration": [
            {"predicted": round(float(a), 4), "observed": round(float(b), 4)}
            for a, b in zip(pred, true, strict=True)
        ],
        "calibration_bin_sizes": [int(c) for c in counts][: len(pred)],
    }


def auc_interval(auc: float, pos: int, neg: int) -> tuple[float, float]:
    """A 95% interval for a ROC-AUC from its class sizes (Hanley & McNeil 1982): wide when
    one class is small, as churn's opposite often is."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (pos - 1) * (q1 - auc**2) + (neg - 1) * (q2 - auc**2)) / (pos * neg)
    half = 1.96 * float(np.sqrt(max(var, 0.0)))
    return max(0.0, auc - half), min(1.0, auc + half)


def reference(p: Prepared) -> dict[str, Any]:
    """A typical value per feature (median, or the most common category)."""
    ref: dict[str, Any] = {c: float(p.x[c].median()) for c in p.numeric}
    for c in p.categorical:
        mode = p.x[c].mode(dropna=True)
        ref[c] = str(mode.iloc[0]) if len(mode) else None
    return ref


def reasons(
    model: Any, x: pd.DataFrame, ref: dict[str, Any], top: int = 3
) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """Each row's risk and the features that raise it most: how much lower the risk would
    be were that one value the typical one (in points of probability)."""
    prob = model.predict_proba(x)[:, 1]
    lift = np.zeros((len(x), len(ref)))
    cols = list(ref)
    for j, col in enumerate(cols):
        typical = x.copy()
        typical[col] = ref[col]
        lift[:, j] = prob - model.predict_proba(typical)[:, 1]
    out: list[list[dict[str, Any]]] = []
    for i in range(len(x)):
        order = np.argsort(-lift[i])[:top]
        out.append(
            [
                {
                    "feature": cols[j],
                    "value": _plain(x.iloc[i][cols[j]]),
                    "raises_by": round(float(lift[i, j]), 4),
                }
                for j in order
                if lift[i, j] > 0.001
            ]
        )
    return prob, out


def _plain(v: Any) -> Any:
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v.item() if isinstance(v, np.generic) else v
