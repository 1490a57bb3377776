"""``--sentiment auto`` uses the model learned from the ratings only when it beats the
lexicon and the prior held out, and only on texts in a language the rated texts are in
(docs/voice.md "Sentiment"). Small stores through the real ingest; the baselines recomputed
here from the raw answers with sklearn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

import cxloop
from cxloop.services.voice.analysis import MIN_LEARN, Voice
from cxloop.text.sentiment import LexiconSentiment

SURVEY = """[input]
format = "jsonl"
[[events]]
customer_id = "{respondent}"
event_type = "survey_response"
ts = { column = "submitted" }
channel = "email"
[events.attrs]
metric = "nps"
score = { column = "nps", type = "integer" }
text = "{comment}"
"""
CONTACTS = """[input]
format = "jsonl"
[[events]]
customer_id = "{customer}"
event_type = "contact_inbound"
ts = { column = "when" }
channel = "phone"
[events.attrs]
text = "{message}"
lang = "pt"
"""
#: comments that say nothing of the score (the probe's survey): a model learns chance
NOISE = ["Fast delivery, thanks", "Late again, very annoyed", "ok", "Great service"]
#: words no lexicon knows, each always with one kind of score: a model learns them
CODES = {"zorbel quant": 2, "plimmo dask": 8, "vexa trundle": 10}
PORTUGUESE = ["Obrigado, entrega rápida", "Produto veio quebrado", "Ainda não recebi"]


def _label(nps: int) -> str:
    return "negative" if nps <= 6 else "positive" if nps >= 9 else "neutral"


def _store(folder: Path, answers: list[tuple[str, int]]) -> Path:
    survey = folder / "survey.jsonl"
    survey.write_text(
        "".join(
            json.dumps(
                {
                    "respondent": f"r{i:03d}",
                    "submitted": f"2018-0{1 + i % 8}-{1 + i % 27:02d}T10:00:00+00:00",
                    "nps": nps,
                    "comment": text,
                }
            )
            + "\n"
            for i, (text, nps) in enumerate(answers)
        ),
        encoding="utf-8",
    )
    contacts = folder / "contacts.jsonl"
    contacts.write_text(
        "".join(
            json.dumps({"customer": f"p{i}", "when": "2018-09-01T10:00:00", "message": m}) + "\n"
            for i, m in enumerate(PORTUGUESE)
        ),
        encoding="utf-8",
    )
    (folder / "survey.toml").write_text(SURVEY, encoding="utf-8")
    (folder / "contacts.toml").write_text(CONTACTS, encoding="utf-8")
    home = folder / "store"
    with cxloop.open(home) as cx:
        cx.ingest(survey, mapping=folder / "survey.toml", refresh=False)
        cx.ingest(contacts, mapping=folder / "contacts.toml", refresh=False)
    return home


def _sentiment(home: Path) -> tuple[Voice, object]:
    with cxloop.open(home) as cx:
        v = Voice(cx.workspace)
        s = v.frame.join(v.sentiment, how="inner")
    return v, s


def test_auto_keeps_the_lexicon_when_the_ratings_do_not_follow_the_words(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(7)
    answers = [(NOISE[i % len(NOISE)], int(rng.integers(0, 11))) for i in range(MIN_LEARN + 40)]
    v, rows = _sentiment(_store(tmp_path, answers))
    choice = v.sentiment_choice
    assert choice["used"] == "lexicon"
    assert set(rows["model"]) == {LexiconSentiment.name}  # surveys and contacts alike
    labels = [_label(n) for _, n in answers]
    lexicon = LexiconSentiment().predict([t for t, _ in answers]).tolist()
    want = f1_score(labels, lexicon, average="macro", labels=sorted(set(labels) | set(lexicon)))
    assert choice["lexicon_macro_f1"] == pytest.approx(want)
    assert choice["prior_macro_f1"] == pytest.approx(1 / len(set(labels)))
    best = max(choice["lexicon_macro_f1"], choice["prior_macro_f1"])
    assert choice["held_out_macro_f1"] < best + choice["margin"]
    assert f"{choice['held_out_macro_f1']:.3f}" in choice["why"]


def test_auto_learns_where_the_ratings_follow_the_words(tmp_path: Path) -> None:
    codes = list(CODES.items())
    answers = [codes[i % len(codes)] for i in range(MIN_LEARN + 10)]
    v, rows = _sentiment(_store(tmp_path, answers))
    choice = v.sentiment_choice
    assert choice["used"] == "learned" and choice["languages"] == ["en"]
    assert choice["held_out_macro_f1"] >= choice["lexicon_macro_f1"] + choice["margin"]
    models = rows.groupby("event_type")["model"].agg(set)
    assert all(m.startswith("learned from") for m in models["survey_response"])
    # the Portuguese contacts: no rated text is in Portuguese, so the lexicon scores them
    assert models["contact_inbound"] == {LexiconSentiment.name}
    assert "texts in pt" in choice["why"]
    survey = rows[rows["event_type"] == "survey_response"]
    assert (survey["sentiment"] == survey["score"].map(_label)).mean() > 0.95
