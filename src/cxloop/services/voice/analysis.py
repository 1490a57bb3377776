"""Use cases for the voice of the customer and of the employee: scores with intervals and
trends, sentiment per text, topics. Emerging issues, drivers and the side-by-side
comparison build on these (:mod:`cxloop.services.voice.insights`). See docs/voice.md.

One :class:`Voice` reads a snapshot of the log once; the expensive parts (embeddings,
topics, a learned sentiment model) are computed on first use and cached under
``HOME/voice/`` (embeddings by text and model; topics and the learned model by a digest
of their texts and the options), so ``voice topics`` followed by
``voice emerging`` encodes each text once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cxloop.analytics.voice import voice_expr
from cxloop.domain.promises import PromiseState
from cxloop.domain.scores import change_p, estimate
from cxloop.errors import ConfigError, NotFoundError
from cxloop.services.promises.ledger import promises_table
from cxloop.services.voice.sentiment_choice import auto_learned
from cxloop.store.artifacts import Artifacts
from cxloop.text.keywords import language_code
from cxloop.text.sentiment import (
    CrossFit,
    LexiconSentiment,
    StarSentiment,
    cross_fit,
    stars_to_label,
)
from cxloop.text.threads import limited, thread_count
from cxloop.workspace.workspace import Workspace

Progress = Callable[[str], None]

#: Where a customer's answer is attributed when no broken promise says otherwise.
STAGE_DEPARTMENT = {
    "delivery": "logistics",
    "support": "support",
    "billing": "billing",
    "returns": "returns",
    "purchase": "sales",
}
PERIODS = {"week": "W-MON", "month": "M"}
GROUPS = ("department", "channel", "stage", "survey", "voice")
SENTIMENT_MODES = ("auto", "lexicon", "learned")
MIN_LEARN = 200  # labelled texts needed before sentiment is learned from the ratings
FOLDS = 5  # cross-fitting: each rated text is scored by a model trained on the other folds
SCORED = ("nps", "csat", "ces", "review")


def _no_progress(_: str) -> None:
    return None


def bar(done: int, total: int, width: int = 20) -> str:
    """A text progress bar: ``[#######.............]  35%``."""
    filled = round(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {100 * done / max(total, 1):3.0f}%"


class Voice:
    def __init__(
        self,
        ws: Workspace,
        *,
        sentiment: str = "auto",
        k: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        if sentiment not in SENTIMENT_MODES:
            raise ConfigError(
                f"unknown sentiment mode {sentiment!r} (expected {', '.join(SENTIMENT_MODES)})"
            )
        self.ws = ws
        self.scales = ws.scales
        self.sentiment_mode = sentiment
        self.k = k
        self.progress = progress or _no_progress
        self.version = int(ws.log.version)
        self.artifacts = Artifacts(ws.home / "voice")
        self._embedder: Any = None
        self._vectors: dict[str, Any] | None = None  # the embeddings cache, once read
        #: held-out accuracy / macro-F1 of the learned sentiment (empty: lexicon only)
        self.sentiment_check: dict[str, float | int] = {}
        #: ``auto``: which model it used and why (sentiment_choice.Choice.as_dict)
        self.sentiment_choice: dict[str, Any] = {}

    @cached_property
    def threads(self) -> int:
        """Threads for the text models (the ``voice_threads`` setting; 0: the cores idle
        when a model first runs, not when the Voice was made)."""
        return thread_count(self.ws.settings.voice_threads)

    # ------------------------------------------------------------------ the rows
    @cached_property
    def frame(self) -> pd.DataFrame:
        """Every voice row, with ``norm`` (score on 0-100), ``about_department`` and
        ``period`` helpers."""
        df = voice_expr(self.ws.events()).execute()
        df["ts"] = pd.to_datetime(df["ts"])
        known = df["metric"].isin(list(self.scales))
        df["norm"] = np.nan
        for metric, s in self.scales.items():
            m = known & (df["metric"] == metric)
            df.loc[m, "norm"] = 100 * (df.loc[m, "score"] - s.low) / (s.high - s.low)
        df["about_department"] = self._attribute(df)
        return df.sort_values("ts", kind="stable").reset_index(drop=True)

    @property
    def as_of(self) -> datetime:
        """The end of the voice windows: the store's clock (``ws.clock``)."""
        if self.frame["ts"].empty:
            raise NotFoundError("no survey answers, reviews, contacts or employee feedback")
        return self.ws.clock.now()

    @cached_property
    def promises(self) -> pd.DataFrame:
        """Every promise with a ref (cancelled ones aside), with ``known_at``: when its
        outcome became known (fulfilled, or due for a broken one; NaT while open)."""
        t = promises_table(self.ws)
        df = (
            t.filter((t.state != PromiseState.CANCELLED.value) & t.ref.notnull())
            .select(
                "customer_id",
                "ref",
                "rule",
                "kind",
                "department",
                "state",
                "due_at",
                "fulfilled_at",
                "below_baseline",
                "late_hours",
            )
            .execute()
        )
        for c in ("due_at", "fulfilled_at"):
            df[c] = pd.to_datetime(df[c])
        done = df["state"].isin(
            [PromiseState.KEPT.value, PromiseState.EXCEEDED.value, PromiseState.BROKEN.value]
        )
        known = df["fulfilled_at"].where(df["state"] != PromiseState.BROKEN.value, df["due_at"])
        df["known_at"] = known.where(done)
        return df

    def _attribute(self, df: pd.DataFrame) -> pd.Series:
        """The department a row is about: its own unless it is the customer's voice; then
        the owner of a promise broken on the same order; then by journey stage."""
        dept = df["department"].where(df["department"] != "customer")
        if (dept.isna() & df["ref"].notna()).any():
            p = self.promises
            broken = (
                p[p["state"] == PromiseState.BROKEN.value]
                .sort_values("due_at")
                .drop_duplicates(["customer_id", "ref"])
                .set_index(["customer_id", "ref"])["department"]
            )
            key = pd.MultiIndex.from_arrays([df["customer_id"], df["ref"]])
            owner = pd.Series(broken.reindex(key).to_numpy(), index=df.index, dtype=object)
            dept = dept.where(dept.notna(), owner)
        fallback = df["stage"].map(STAGE_DEPARTMENT).where(lambda s: s.notna(), "other")
        return dept.where(dept.notna(), fallback).astype(str)

    # ------------------------------------------------------------------ scores
    def scores(
        self,
        by: str | None = None,
        metric: str | None = None,
        voice: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        """NPS / CSAT / CES / review (and the employees' eNPS / pulse) with counts and 95%
        intervals; ``by`` a period (week, month) adds the change from the previous period
        and its p-value, a group (department, channel, stage, survey, voice) one row each."""
        scales = self.scales
        df = self.frame[self.frame["metric"].isin(list(scales)) & self.frame["score"].notna()]
        if metric:
            if metric not in scales:
                raise ConfigError(f"unknown metric {metric!r} (expected {', '.join(scales)})")
            df = df[df["metric"] == metric]
        if voice:
            if voice not in ("customer", "employee"):
                raise ConfigError(f"unknown voice {voice!r} (expected customer or employee)")
            df = df[df["voice"] == voice]
        if since is not None:
            df = df[df["ts"] >= pd.Timestamp(since).tz_localize(None)]
        if until is not None:  # the answers known at that time
            df = df[df["ts"] <= pd.Timestamp(until).tz_localize(None)]
        if by is None:
            key = None
        elif by in PERIODS:
            key = df["ts"].dt.to_period(PERIODS[by]).dt.start_time.dt.strftime("%Y-%m-%d")
        elif by in GROUPS:
            key = df["about_department"] if by == "department" else df[by].fillna("unknown")
        else:
            raise ConfigError(
                f"cannot group scores by {by!r} (expected {', '.join([*PERIODS, *GROUPS])})"
            )
        rows: list[dict[str, Any]] = []
        groups = [(None, df)] if key is None else list(df.groupby(key, sort=True))
        previous: dict[str, Any] = {}
        for name, part in groups:
            for m, values in part.groupby("metric", sort=True):
                e = estimate(str(m), values["score"].tolist(), scales)
                row: dict[str, Any] = {} if by is None else {by: name}
                row |= {
                    "metric": m,
                    "headline": scales[str(m)].label,
                    "n": e.n,
                    "value": e.value,
                    "ci_low": e.low,
                    "ci_high": e.high,
                    "mean": e.mean,
                    "top_share": e.top_share,
                    "bottom_share": e.bottom_share,
                }
                if by in PERIODS:
                    before = previous.get(str(m))
                    row["change"] = e.value - before.value if before else math.nan
                    row["change_p"] = change_p(before, e) if before else math.nan
                    previous[str(m)] = e
                rows.append(row)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ sentiment
    def _rated_labels(self, rated: pd.DataFrame) -> pd.Series:
        """negative / neutral / positive per rated text, from its scale's thresholds."""
        labels = pd.Series("", index=rated.index, dtype=object)
        for m, p in rated.groupby("metric", sort=False):
            scale = self.scales[str(m)]
            labels[p.index] = stars_to_label(p["score"], scale.bottom, scale.top)
        return labels

    def _learned(self, rated: pd.DataFrame, full: bool) -> tuple[StarSentiment | None, CrossFit]:
        """The cross-fitted scores of the rated texts (in ``rated``'s order) and, when
        ``full``, a model trained on all of them for texts without a rating."""
        labels = self._rated_labels(rated).tolist()
        texts = rated["text"].tolist()
        key = Artifacts.key(
            texts=Artifacts.digest([*texts, *labels]), folds=FOLDS, full=full, split="rows"
        )  # the rated texts and their labels, not the log version: other events keep it
        cached = self.artifacts.get("sentiment", key)
        if isinstance(cached, tuple) and isinstance(cached[1], CrossFit):
            return cached[0], cached[1]
        self.progress(f"learning sentiment from {len(rated):,} rated texts ({FOLDS} folds)…")
        with limited(self.threads):
            fitted = cross_fit(texts, labels, FOLDS)
            model = StarSentiment().fit(texts, labels) if full else None
        self.artifacts.put("sentiment", key, (model, fitted))
        return model, fitted

    @cached_property
    def sentiment(self) -> pd.DataFrame:
        """Per text row: ``polarity`` in [-1, 1], ``sentiment`` (negative/neutral/positive)
        and ``model``. ``auto``: the model learned from the organization's own ratings for
        rated kinds of text (surveys, reviews) and for any non-English text; the lexicon for
        English texts of other kinds (contacts, employee comments), which the ratings do not
        describe; the lexicon everywhere when the learned model does not beat the lexicon
        and the prior held out (:meth:`_auto_learned`, :attr:`sentiment_choice`).
        ``learned`` / ``lexicon`` force one model for every text. A rated text is
        scored by a model not trained on it (cross-fitted, :data:`FOLDS` folds);
        :attr:`sentiment_check` says how often that agreed with the rating."""
        df = self.frame
        texts = df[df["text"].notna()]
        rated = texts[texts["metric"].isin(SCORED) & texts["score"].notna()]
        mode = self.sentiment_mode
        if mode == "learned" and len(rated) < 20:
            raise ConfigError(
                f"cannot learn sentiment from {len(rated)} rated texts (need at least 20)"
            )
        if mode == "auto":
            use_learned = self._auto_learned(texts, rated)
        else:
            use_learned = pd.Series(mode == "learned", index=texts.index)
        out = pd.DataFrame(index=texts.index, columns=["polarity", "sentiment", "model"])
        lexicon = texts[~use_learned]
        if len(lexicon):
            model = LexiconSentiment()
            items = lexicon["text"].tolist()
            out.loc[lexicon.index, "polarity"] = model.polarity(items)
            out.loc[lexicon.index, "sentiment"] = model.predict(items)
            out.loc[lexicon.index, "model"] = LexiconSentiment.name
        if use_learned.any():
            self._score_learned(out, texts[use_learned], rated)
        out["polarity"] = out["polarity"].astype(float)
        return out

    def _auto_learned(self, texts: pd.DataFrame, rated: pd.DataFrame) -> pd.Series:
        """``auto``: which texts the learned model scores (:func:`auto_learned`)."""
        return auto_learned(self, texts, rated, MIN_LEARN)

    def _score_learned(self, out: pd.DataFrame, part: pd.DataFrame, rated: pd.DataFrame) -> None:
        unrated = part[~part.index.isin(rated.index)]
        full, fitted = self._learned(rated, full=len(unrated) > 0)
        self.sentiment_check = fitted.summary()
        held = part.index.intersection(rated.index)
        pos = rated.index.get_indexer(held)
        out.loc[held, "polarity"] = fitted.polarity[pos]
        out.loc[held, "sentiment"] = fitted.predicted[pos]
        out.loc[held, "model"] = (
            f"learned from {len(rated):,} rated texts (held out: {FOLDS} folds)"
        )
        if full is not None and len(unrated):
            items = unrated["text"].tolist()
            out.loc[unrated.index, "polarity"] = full.polarity(items)
            out.loc[unrated.index, "sentiment"] = full.predict(items)
            out.loc[unrated.index, "model"] = f"learned from {len(rated):,} rated texts"

    # ------------------------------------------------------------------ embeddings, topics
    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from cxloop.text.embed import Embedder, precision

            self._embedder = Embedder(precision=precision(self.ws.settings.embedding_precision))
        return self._embedder

    def embeddings(self, rows: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit-length embeddings of ``rows['text']`` without handles, URLs and link
        placeholders (:func:`cxloop.text.topics.clean`). Cached by text for the model in
        use, across log versions: a new ingest embeds only the texts not seen before."""
        from cxloop.text.topics import clean

        return self.embed([clean(t) for t in rows["text"]])

    def embed(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit-length embeddings of ``texts`` as they are, through the same cache by text
        (``HOME/voice/embeddings.pkl``): only texts never embedded before reach the model.
        The cache is the model's and its arithmetic's (``embedding_precision``): another
        precision embeds again rather than mix vectors of the two."""
        from cxloop.text.embed import model_path

        arithmetic = self.embedder.precision
        extra = {} if arithmetic == "float32" else {"precision": arithmetic}
        key = Artifacts.key(model=str(model_path()), text="clean/1", **extra)
        if self._vectors is None:  # read once per Voice: the file may hold many texts
            cached = self.artifacts.get("embeddings", key)
            self._vectors = cached if isinstance(cached, dict) else {}
        store = self._vectors
        todo = list(dict.fromkeys(t for t in texts if t not in store))
        if todo:
            self.progress(f"embedding {len(todo):,} texts (MiniLM, CPU)…")

            def step(done: int, total: int) -> None:
                self.progress(
                    f"{bar(done, total)} embedding {done:,}/{total:,} texts (MiniLM, CPU)"
                )

            self.embedder.model  # noqa: B018  (loads torch before its threads are set)
            with limited(self.threads):
                store.update(zip(todo, self.embedder.encode(todo, step), strict=True))
            self.artifacts.put("embeddings", key, store)
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([store[t] for t in texts]).astype(np.float32)

    @cached_property
    def customer_texts(self) -> pd.DataFrame:
        df = self.frame
        return df[(df["voice"] == "customer") & df["text"].notna()]

    @cached_property
    def topic_model(self) -> tuple[Any, pd.Series]:
        """The topics of the customers' texts, and each text row's topic."""
        from cxloop.text.topics import FORMAT as TOPICS_FORMAT
        from cxloop.text.topics import TopicModel, clean, discover

        rows = self.customer_texts
        if len(rows) < 3:
            raise NotFoundError(f"only {len(rows)} customer texts: too few to find topics")
        texts = [clean(t) for t in rows["text"]]
        languages = self.languages(rows)
        arithmetic = self.embedder.precision  # the vectors' (float32 keeps the old keys)
        extra = {} if arithmetic == "float32" else {"precision": arithmetic}
        key = Artifacts.key(  # the texts in order, not the log version: other events keep it
            texts=Artifacts.digest(texts), k=self.k, algo=TOPICS_FORMAT, lang=languages, **extra
        )
        cached = self.artifacts.get("topics", key)
        if isinstance(cached, tuple) and isinstance(cached[0], TopicModel):
            model, assigned = cached
        else:
            x = self.embeddings(rows)
            self.progress(f"clustering {len(rows):,} texts into topics…")
            with limited(self.threads):
                model, assigned = discover(x, texts, self.k, languages=languages)
            self.artifacts.put("topics", key, (model, assigned))
        return model, pd.Series(assigned, index=rows.index, name="topic")

    def languages(self, rows: pd.DataFrame) -> list[str]:
        """The languages of ``rows`` (attrs.lang; else the ``language`` setting)."""
        default = language_code(self.ws.settings.language, "en")
        return sorted({language_code(x, default) for x in rows["lang"]})

    def topics(self) -> pd.DataFrame:
        """One row per topic: label, size, share, mean score, share negative, examples."""
        model, assigned = self.topic_model
        rows = self.customer_texts.assign(topic=assigned)
        rows = rows.join(self.sentiment)
        out = []
        for t in model.topics:
            part = rows[rows["topic"] == t.topic]
            out.append(
                {
                    "topic": t.topic,
                    "label": t.label,
                    "texts": len(part),
                    "share": len(part) / max(len(rows), 1),
                    "customers": part["customer_id"].nunique(),
                    "negative_share": float((part["sentiment"] == "negative").mean())
                    if len(part)
                    else math.nan,
                    "mean_score": float(part["norm"].mean()),
                    "sources": ", ".join(
                        f"{k} {v}" for k, v in part["event_type"].value_counts().items()
                    ),
                    "terms": list(t.terms),
                    "examples": list(t.examples),
                }
            )
        result = pd.DataFrame(out).sort_values("texts", ascending=False, kind="stable")
        result.attrs |= {
            "k": model.k,
            "k_found": model.k_found,
            "k_scores": model.k_scores,
            "texts": len(rows),
            "languages": self.languages(rows),
        }
        return result.reset_index(drop=True)
