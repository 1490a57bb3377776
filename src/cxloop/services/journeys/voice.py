"""What customers said at each journey stage: texts, sentiment, and the words that mark
the stage (docs/journeys.md). The texts and their sentiment come from the voice layer
(:class:`~cxloop.services.voice.analysis.Voice`, cached per log version); each text belongs to the
stage its customer was at when writing it."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from cxloop.services.journeys.stages import Journeys
from cxloop.services.voice.analysis import Voice
from cxloop.text.keywords import tokens
from cxloop.text.topics import stop_words

MIN_WORD = 3


def stage_texts(j: Journeys, voice: Voice) -> pd.DataFrame:
    """The customers' texts up to the journey's as-of, each with ``stage`` (NaN: written
    before the customer entered any stage) and ``sentiment``."""
    texts = voice.customer_texts
    texts = texts[texts["ts"] <= pd.Timestamp(j.as_of).tz_localize(None)]
    texts = texts.join(voice.sentiment[["sentiment"]])
    e = j.entries
    ent = e.select("customer_id", "stage", "entered_at").execute()
    ent["entered_at"] = pd.to_datetime(ent["entered_at"]).astype("datetime64[ns]")
    left = texts[["event_id", "customer_id", "ts", "text", "lang", "sentiment"]].copy()
    left["ts"] = left["ts"].astype("datetime64[ns]")
    order = {n: i for i, n in enumerate(j.journey.names)}
    ent = ent.assign(o=ent["stage"].map(order)).sort_values(["entered_at", "o"], kind="stable")
    return pd.merge_asof(
        left.sort_values("ts", kind="stable"),
        ent.drop(columns="o"),
        left_on="ts",
        right_on="entered_at",
        by="customer_id",
        direction="backward",
    )


def stage_voice(j: Journeys, voice: Voice, top: int = 5) -> pd.DataFrame:
    """Per stage: texts, negative and positive shares, and its ``top`` keywords (the words
    most over-represented there against all texts, among those in at least 1% of them)."""
    texts = stage_texts(j, voice)
    stops = stop_words(voice.languages(texts)) if len(texts) else frozenset()
    words = texts["text"].map(lambda t: {w for w in tokens(t) if len(w) >= MIN_WORD} - stops)
    every: Counter[str] = Counter(w for ws in words for w in ws)
    rows = []
    for name in j.journey.names:
        mask = texts["stage"] == name
        part = texts[mask]
        rows.append(
            {
                "stage": name,
                "texts": len(part),
                "negative_share": float((part["sentiment"] == "negative").mean())
                if len(part)
                else None,
                "positive_share": float((part["sentiment"] == "positive").mean())
                if len(part)
                else None,
                "keywords": _keywords(words[mask], every, len(texts), top),
            }
        )
    return pd.DataFrame(rows)


def _keywords(words: pd.Series, every: Counter[str], total: int, top: int) -> list[str]:
    n = len(words)
    if not n:
        return []
    here: Counter[str] = Counter(w for ws in words for w in ws)
    floor = max(2, math.ceil(0.01 * n))
    scored = [
        (c * math.log((c / n) / (every[w] / total) + 1.0), w) for w, c in here.items() if c >= floor
    ]
    return [w for _, w in sorted(scored, reverse=True)[:top]]
