"""Churn on your own customer table: fit, evaluate and predict (docs/outcomes-churn.md).

A table is CSV or Parquet, one row per customer: an id column, a label column (who left)
and any attribute columns. :func:`fit` holds out a stratified quarter (or the latest
quarter by ``time``), chooses the model by cross-validation on the rest, reports the
held-out figures, then refits on every row and writes the model directory: ``model.joblib``
(the fitted scikit-learn pipeline, calibrated) and ``manifest.json`` (columns, label
mapping, figures, versions). Load only model directories you made: joblib files run code.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cxloop.errors import ConfigError, InputError
from cxloop.services.outcomes import churn_model as cm
from cxloop.version import __version__

FORMAT = "cxloop-churn-model/1"
# one thread per fit: OpenMP's spinning threads slow gradient boosting tenfold on a
# shared machine, and the tables here are customer tables, not images
THREADS = 1
HOLDOUT = 0.25
# scikit-learn and joblib are imported where a model is split, fitted, saved or loaded:
# every `cxloop` process imports this module (docs/development.md, "Where the time goes")


@dataclass
class Spec:
    """What the user named: the table's id and label columns, optionally a time column
    (then the split is by time), the churn value of the label, and leak handling."""

    id_col: str
    label: str | None = None
    time: str | None = None
    positive: str | None = None
    drop_leaky: bool = False


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet table, every CSV cell read as text (types are decided later)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            return pd.read_csv(
                path, sep=sep, dtype=str, encoding="utf-8-sig", keep_default_na=False
            )
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as {suffix[1:]}: {exc}") from exc
    raise InputError(f"{path}: unknown table format {suffix or '(none)'}; use .csv or .parquet")


def checked(df: pd.DataFrame, path: Path, spec: Spec) -> pd.DataFrame:
    """The table with its named columns present, ids unique and labels filled, or an error
    naming the file, the row (1 = first data row) and the field."""
    df = df.copy()
    for col in df.columns:  # a blank or all-space cell is a missing value
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            text = df[col].astype("string").str.strip()
            df[col] = df[col].where(text.notna() & (text != ""), None)
    for col in (spec.id_col, spec.label, spec.time):
        if col is not None and col not in df.columns:
            raise InputError(
                f"{path}: no column {col!r} (columns: {', '.join(map(str, df.columns[:20]))})"
            )
    if df.empty:
        raise InputError(f"{path}: the table has no rows")
    ids = df[spec.id_col]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0]) + 1
        raise InputError(f"{path}: row {row}, field {spec.id_col!r}: blank id")
    dup = ids.duplicated(keep="first").to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((ids == ids.iloc[row]).to_numpy())[0])
        raise InputError(
            f"{path}: row {row + 1}, field {spec.id_col!r}: id {ids.iloc[row]!r} repeats row "
            f"{first + 1} ({int(dup.sum())} repeated ids); one row per customer"
        )
    if spec.label is not None and df[spec.label].isna().any():
        row = int(np.flatnonzero(df[spec.label].isna().to_numpy())[0]) + 1
        raise InputError(f"{path}: row {row}, field {spec.label!r}: blank label")
    if spec.time is not None:
        when = pd.to_datetime(df[spec.time], errors="coerce", utc=True)
        if when.isna().any():
            row = int(np.flatnonzero(when.isna().to_numpy())[0]) + 1
            raise InputError(
                f"{path}: row {row}, field {spec.time!r}: not a time: "
                f"{df[spec.time].iloc[row - 1]!r}"
            )
    return df.reset_index(drop=True)


def _prepared(df: pd.DataFrame, spec: Spec) -> cm.Prepared:
    exclude = [spec.time] if spec.time else []
    p = cm.prepare(
        df, id_col=spec.id_col, label=spec.label, exclude=exclude, positive=spec.positive
    )
    assert spec.label is not None
    found = cm.leaks(p, spec.label)
    if found and not spec.drop_leaky:
        detail = "; ".join(f"{c}: {why}" for c, why in found.items())
        raise ConfigError(
            f"refusing columns that are the label in disguise ({detail}); remove them, or "
            "pass --drop-leaky to leave them out"
        )
    for col, why in found.items():
        p.x = p.x.drop(columns=col)
        p.numeric = [c for c in p.numeric if c != col]
        p.categorical = [c for c in p.categorical if c != col]
        p.dropped[col] = f"label in disguise: {why}"
    return p


def _split(df: pd.DataFrame, p: cm.Prepared, spec: Spec) -> tuple[np.ndarray, np.ndarray, str]:
    idx = np.arange(len(df))
    if spec.time is not None:
        order = np.argsort(pd.to_datetime(df[spec.time], utc=True).to_numpy(), kind="stable")
        cut = int(len(order) * (1 - HOLDOUT))
        return order[:cut], order[cut:], f"time split on {spec.time!r}: the latest 25% held out"
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(idx, test_size=HOLDOUT, stratify=p.y, random_state=cm.SEED)
    return train, test, "stratified split: 25% held out (seed 0)"


def evaluate_fresh(df: pd.DataFrame, spec: Spec) -> dict[str, Any]:
    """Choose a model by cross-validation on the training part, calibrate it there, and
    score it on the held-out part (which neither choice nor calibration saw)."""
    p = _prepared(df, spec)
    train, test, how = _split(df, p, spec)
    if len(set(p.y[train].tolist())) < 2 or len(set(p.y[test].tolist())) < 2:
        raise ConfigError("the split leaves one class only on one side: too few churned customers")
    name, cv_auc = cm.select(p, p.x.iloc[train], p.y[train])
    model = cm.fit_calibrated(p, name, p.x.iloc[train], p.y[train])
    prob = model.predict_proba(p.x.iloc[test])[:, 1]
    return {
        **cm.scores(p.y[test], prob),
        "validation": how,
        "model": name,
        "cv_roc_auc": {k: round(v, 4) for k, v in cv_auc.items()},
        "rows": len(df),
        "train_rows": len(train),
        "features": p.numeric + p.categorical,
        "dropped": p.dropped,
        "label_values": p.label_values,
    }


def fit(df: pd.DataFrame, spec: Spec, model_dir: Path) -> dict[str, Any]:
    """Evaluate honestly, then refit the chosen model on every row and save it."""
    import joblib
    import sklearn

    report = evaluate_fresh(df, spec)
    p = _prepared(df, spec)
    model = cm.fit_calibrated(p, report["model"], p.x, p.y)
    manifest = {
        "format": FORMAT,
        "id": spec.id_col,
        "label": spec.label,
        "time": spec.time,
        "label_values": p.label_values,
        "numeric": p.numeric,
        "categorical": p.categorical,
        "dropped": p.dropped,
        "reference": cm.reference(p),
        "model": report["model"],
        "holdout": {k: report[k] for k in ("roc_auc", "brier", "n", "positives", "validation")},
        "cv_roc_auc": report["cv_roc_auc"],
        "trained_rows": len(df),
        "versions": {
            "cxloop": __version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    (model_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    return {**report, "model_dir": str(model_dir)}


def load(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    import joblib
    import sklearn

    path = model_dir / "manifest.json"
    if not path.exists():
        raise InputError(f"{model_dir}: not a churn model directory (no manifest.json)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise InputError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    made = manifest["versions"]["scikit-learn"]
    if made.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ConfigError(
            f"{model_dir}: made with scikit-learn {made}, this is {sklearn.__version__}; "
            "fit it again"
        )
    return joblib.load(model_dir / "model.joblib"), manifest


def _features(df: pd.DataFrame, manifest: dict[str, Any], path: Path) -> pd.DataFrame:
    """The model's feature columns from ``df`` typed as at fit time, or an error naming
    the columns this table lacks (a model made for other columns is refused)."""
    cols = manifest["numeric"] + manifest["categorical"]
    missing = [c for c in cols if c not in df.columns]
    if missing or manifest["id"] not in df.columns:
        lacks = ([manifest["id"]] if manifest["id"] not in df.columns else []) + missing
        raise ConfigError(
            f"{path}: the model was made for other columns; this table lacks "
            + ", ".join(map(repr, lacks))
        )
    x = pd.DataFrame(index=df.index)
    for c in manifest["numeric"]:
        x[c] = pd.to_numeric(
            df[c].astype("string").str.strip().replace("", pd.NA), errors="coerce"
        ).astype(float)
    for c in manifest["categorical"]:
        text = df[c].astype("string").str.strip().replace("", pd.NA)
        x[c] = text.astype(object).where(text.notna(), np.nan)
    return x


def predict(df: pd.DataFrame, model_dir: Path, path: Path, top: int = 3) -> pd.DataFrame:
    """Per row: the id, the churn probability and the values that raise it most."""
    model, manifest = load(model_dir)
    x = _features(df, manifest, path)
    prob, why = cm.reasons(model, x, manifest["reference"], top)
    out = pd.DataFrame(
        {manifest["id"]: df[manifest["id"]].to_numpy(), "probability": prob.round(4)}
    )
    out["reasons"] = [
        "; ".join(f"{r['feature']}={r['value']} (+{r['raises_by']:.1%})" for r in rs) for rs in why
    ]
    return out.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)


def evaluate_saved(
    df: pd.DataFrame, model_dir: Path, path: Path, label: str | None
) -> dict[str, Any]:
    """A saved model scored on a table it may never have seen (every row is test data)."""
    model, manifest = load(model_dir)
    col = label or manifest["label"]
    if col not in df.columns:
        raise InputError(f"{path}: no label column {col!r}")
    mapping: dict[str, int] = manifest["label_values"]
    y = df[col].map(lambda v: mapping.get(cm._norm(v), -1)).to_numpy()
    if (y < 0).any():
        row = int(np.flatnonzero(y < 0)[0])
        raise InputError(
            f"{path}: row {row + 1}, field {col!r}: value {df[col].iloc[row]!r} is not one the "
            f"model knows ({', '.join(map(repr, mapping))})"
        )
    prob = model.predict_proba(_features(df, manifest, path))[:, 1]
    return {
        **cm.scores(y, prob),
        "validation": f"saved model {model_dir.name} on every row",
        "model": manifest["model"],
    }


def fit_file(path: Path, spec: Spec, model_dir: Path) -> dict[str, Any]:
    """:func:`fit` on the table at ``path``."""
    with threadpool_limits(THREADS):
        return fit(checked(read_table(path), path, spec), spec, model_dir)


def evaluate_file(path: Path, spec: Spec, model_dir: Path | None = None) -> dict[str, Any]:
    """Held-out figures of a fresh fit, or of the saved model at ``model_dir`` on every row."""
    with threadpool_limits(THREADS):
        if model_dir is None:
            report = evaluate_fresh(checked(read_table(path), path, spec), spec)
        else:
            df = checked(read_table(path), path, Spec(spec.id_col, spec.label))
            report = evaluate_saved(df, model_dir, path, spec.label)
    return {"table": str(path), **report}


def predict_file(path: Path, model_dir: Path, top: int = 3) -> pd.DataFrame:
    """:func:`predict` on the table at ``path`` (its id column named by the model)."""
    _, manifest = load(model_dir)
    df = checked(read_table(path), path, Spec(manifest["id"]))
    with threadpool_limits(THREADS):
        return predict(df, model_dir, path, top)
