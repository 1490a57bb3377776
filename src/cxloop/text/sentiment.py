"""Sentiment per text: negative, neutral or positive, with a score in [-1, 1].

Two models behind one small interface (:class:`SentimentModel`):

- :class:`LexiconSentiment` — VADER (English lexicon and rules) with customer-service
  overrides; for organizations without labels. VADER reads "support" and "help" as
  positive words, so "Worst support ever" would come out milder than it is.
- :class:`StarSentiment` — learned from the organization's own star ratings (1-2 negative,
  3 neutral, 4-5 positive): word and character n-grams into a class-balanced logistic
  regression. Character n-grams make it language-agnostic (the Olist reviews are
  Portuguese) and robust to misspellings; class balancing keeps the rare neutral class
  from being ignored, which is what macro-F1 measures.

A model learned from ratings would only repeat them if it scored the texts it was trained
on, so :func:`cross_fit` scores every rated text with a model trained on the other folds
(K folds of rows; never on that text's own rating) and reports the held-out accuracy and
macro-F1.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cxloop.errors import InputError

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
#: VADER's own published thresholds on the compound score.
VADER_NEUTRAL_BAND = 0.05
FORMAT = "cxloop-star-sentiment/1"

#: Words whose generic-English valence misleads on customer-service text (VADER scale -4..4).
CX_LEXICON: dict[str, float] = {
    "support": 0.0,
    "help": 0.0,
    "please": 0.0,
    "refund": 0.0,
    "promise": 0.0,
    "approval": 0.0,
    "approvals": 0.0,
    "credit": 0.0,
    "wait": -0.6,
    "waits": -0.6,
    "promised": 0.0,
    "late": -1.5,
    "delayed": -1.5,
    "delay": -1.3,
    "overcharged": -2.2,
    "missing": -1.4,
    "damaged": -2.0,
    "broken": -2.0,
    "waiting": -0.8,
    "waited": -0.9,
    "chase": -1.2,
    "never": -0.6,
    "hold": -0.4,
    "transferred": -0.6,
    "exhausting": -2.0,
    "forever": -1.0,
    "missed": -1.2,
    "impossible": -1.5,
    "overcharge": -2.0,
    "nobody": -0.8,
    "backlog": -1.2,
    "short-staffed": -1.5,
    "behind": -0.7,
    "lost": -1.5,
    "early": 1.0,
    "quickly": 1.2,
    "smooth": 1.5,
}


class SentimentModel(Protocol):
    name: str

    def polarity(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """A score per text in [-1, 1] (negative to positive)."""
        ...

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.str_]:
        """negative / neutral / positive per text."""
        ...


def stars_to_label(stars: npt.ArrayLike, bottom: float = 2, top: float = 4) -> npt.NDArray[np.str_]:
    """At or below ``bottom`` negative, at or above ``top`` positive, neutral between
    (1-2 / 3 / 4-5 stars by default)."""
    s = np.asarray(stars, dtype=np.float64)
    return np.where(s <= bottom, "negative", np.where(s < top, "neutral", "positive")).astype(str)


class LexiconSentiment:
    """VADER with :data:`CX_LEXICON` on top. Fast (tens of thousands of texts a second)."""

    name = "lexicon (VADER + CX overrides)"

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()
        self._vader.lexicon.update(CX_LEXICON if overrides is None else overrides)

    def polarity(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        score = self._vader.polarity_scores
        return np.array([score(t)["compound"] if t else 0.0 for t in texts], np.float64)

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.str_]:
        p = self.polarity(texts)
        return np.where(
            p <= -VADER_NEUTRAL_BAND,
            "negative",
            np.where(p >= VADER_NEUTRAL_BAND, "positive", "neutral"),
        ).astype(str)


class StarSentiment:
    """Sentiment learned from star ratings (any language). Estimator API:
    ``fit(texts, labels)`` (labels from :func:`stars_to_label`), ``predict``,
    ``predict_proba`` (columns in ``classes_``), ``score`` (accuracy), ``save`` / ``load``."""

    name = "learned from star ratings"

    def __init__(self, c: float = 1.0, min_df: int = 2) -> None:
        self.c = c
        self.min_df = min_df
        self._pipeline: Any = None
        self.n_train = 0

    @property
    def classes_(self) -> npt.NDArray[np.str_]:
        return np.asarray(self._fitted().classes_, dtype=str)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> StarSentiment:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        y = np.asarray(labels, dtype=str)
        if len(texts) != len(y):
            raise InputError(f"{len(texts)} texts but {len(y)} labels")
        unknown = set(y) - set(LABELS)
        if unknown:
            raise InputError(f"unknown sentiment label {sorted(unknown)[0]!r} (expected {LABELS})")
        if len(set(y)) < 2:
            raise InputError("need star ratings of at least two classes (negative/positive)")
        features = make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode"),
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 5),
                sublinear_tf=True,
                strip_accents="unicode",
                min_df=self.min_df,
            ),
        )
        model = LogisticRegression(
            C=self.c, class_weight="balanced", solver="newton-cg", tol=1e-6, max_iter=3000
        )
        self._pipeline = make_pipeline(features, model).fit(list(texts), y)
        self.n_train = len(y)
        return self

    def _fitted(self) -> Any:
        if self._pipeline is None:
            raise InputError("the sentiment model is not trained yet (call fit first)")
        return self._pipeline[-1]

    def predict_proba(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        self._fitted()
        return np.asarray(self._pipeline.predict_proba(list(texts)), np.float64)

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.str_]:
        proba = self.predict_proba(texts)
        labels: npt.NDArray[np.str_] = self.classes_[proba.argmax(axis=1)]
        return labels

    def polarity(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """P(positive) - P(negative)."""
        proba = self.predict_proba(texts)
        cls = list(self.classes_)
        pos = proba[:, cls.index("positive")] if "positive" in cls else 0.0
        neg = proba[:, cls.index("negative")] if "negative" in cls else 0.0
        return np.asarray(pos - neg, np.float64)

    def score(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        return float(np.mean(self.predict(texts) == np.asarray(labels, dtype=str)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fitted()
        with open(path, "wb") as f:
            state = {"format": FORMAT, "c": self.c, "min_df": self.min_df}
            pickle.dump({**state, "n_train": self.n_train, "pipeline": self._pipeline}, f)

    @classmethod
    def load(cls, path: Path) -> StarSentiment:
        """A saved model (a trusted file: models are pickles)."""
        try:
            with open(path, "rb") as f:
                data = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError) as exc:
            raise InputError(f"{path}: not a cxloop sentiment model ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{path}: not a cxloop sentiment model ({FORMAT})")
        model = cls(c=data["c"], min_df=data["min_df"])
        model._pipeline, model.n_train = data["pipeline"], data["n_train"]
        return model


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    labels = [x for x in LABELS if x in set(truth) | set(predicted)]
    return float(
        f1_score(list(truth), list(predicted), labels=labels, average="macro", zero_division=0)
    )


@dataclass(frozen=True)
class CrossFit:
    """Out-of-fold scores of rated texts: each scored by a model not trained on it."""

    polarity: npt.NDArray[np.float64]
    predicted: npt.NDArray[np.str_]
    accuracy: float
    macro_f1: float
    folds: int
    n: int

    def summary(self) -> dict[str, float | int]:
        return {
            "held_out_accuracy": self.accuracy,
            "held_out_macro_f1": self.macro_f1,
            "folds": self.folds,
            "rated_texts": self.n,
        }


def fold_of(n: int, folds: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """A fold per rated text (row), from a seeded shuffle: the same on every run, and
    every fold as large as the others (within one)."""
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, np.int64)
    fold[order] = np.arange(n) % folds
    return fold


def cross_fit(
    texts: Sequence[str], labels: Sequence[str], folds: int = 5, **params: Any
) -> CrossFit:
    """Score every text with a :class:`StarSentiment` trained on the other folds."""
    y = np.asarray(labels, dtype=str)
    if len(texts) != len(y):
        raise InputError(f"{len(texts)} texts but {len(y)} labels")
    if folds < 2:
        raise InputError(f"cross-fitting needs at least 2 folds, got {folds}")
    fold = fold_of(len(y), folds)
    polarity = np.zeros(len(y), np.float64)
    predicted = np.empty(len(y), dtype=object)
    items = list(texts)
    for f in range(folds):
        test = np.flatnonzero(fold == f)
        train = np.flatnonzero(fold != f)
        if not len(test):
            continue
        model = StarSentiment(**params).fit([items[i] for i in train], y[train].tolist())
        held = [items[i] for i in test]
        polarity[test] = model.polarity(held)
        predicted[test] = model.predict(held)
    out = predicted.astype(str)
    return CrossFit(
        polarity, out, float(np.mean(out == y)), macro_f1(y.tolist(), out.tolist()), folds, len(y)
    )
