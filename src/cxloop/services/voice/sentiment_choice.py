"""Whether ``--sentiment auto`` may use the model learned from the ratings (docs/voice.md).

The learned model is used only when it earns it: its held-out macro-F1 on the rated texts
(each scored by a model not trained on it) must beat, on the same texts and labels, both
the lexicon's and the prior's (labels guessed as often as they occur: chance) by :data:`MARGIN`.
Ratings that do not follow the words (a survey whose comments say nothing of the score)
give a model no better than chance, which would then score every other text. And a text
in a language none of the rated texts is in is not scored by it: the model never saw a
word of that language."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxloop.text.keywords import language_code
from cxloop.text.sentiment import CrossFit, LexiconSentiment, macro_f1

if TYPE_CHECKING:
    from cxloop.services.voice.analysis import Voice

#: how much better (macro-F1) than the best baseline the learned model must be held out
MARGIN = 0.05


@dataclass(frozen=True)
class Choice:
    """Which sentiment model ``auto`` uses, and why (shown by ``voice sentiment`` and the
    brief)."""

    used: str  # "learned" or "lexicon"
    why: str
    scores: dict[str, float | int] = field(default_factory=dict)
    languages: tuple[str, ...] = ()  # the rated texts' languages (what the model covers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "why": self.why,
            **self.scores,
            "languages": list(self.languages),
        }


def baselines(texts: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Macro-F1 of the lexicon on the rated texts and their labels, and of the prior:
    guessing each label as often as it occurs, whose expected F1 for a label is that label's
    share, so its macro-F1 is 1 / the number of labels (at least that of always guessing the
    most common one)."""
    lexicon = LexiconSentiment().predict(list(texts)).tolist()
    return {
        "lexicon_macro_f1": macro_f1(list(labels), lexicon),
        "prior_macro_f1": 1.0 / max(len(Counter(labels)), 1),
    }


def choose(
    fitted: CrossFit, texts: Sequence[str], labels: Sequence[str], languages: Sequence[str]
) -> Choice:
    """The learned model if it beats both baselines held out by :data:`MARGIN`."""
    base = baselines(texts, labels)
    best_name, best = max(base.items(), key=lambda kv: kv[1])
    scores: dict[str, float | int] = {**fitted.summary(), **base, "margin": MARGIN}
    langs = tuple(sorted(set(languages)))
    learned = fitted.macro_f1
    what = best_name.removesuffix("_macro_f1")
    if learned >= best + MARGIN:
        why = (
            f"learned from {fitted.n:,} rated texts: held-out macro-F1 {learned:.3f} beats the "
            f"{what}'s {best:.3f} on the same texts by at least {MARGIN:.2f}; used for texts "
            f"in {', '.join(langs)}"
        )
        return Choice("learned", why, scores, langs)
    why = (
        f"lexicon: the model learned from {fitted.n:,} rated texts scored held-out macro-F1 "
        f"{learned:.3f} (accuracy {fitted.accuracy:.1%}), not {MARGIN:.2f} better than the "
        f"{what}'s {best:.3f} on the same texts: the ratings do not follow the words closely "
        "enough to learn from"
    )
    return Choice("lexicon", why, scores, langs)


def auto_learned(v: Voice, texts: pd.DataFrame, rated: pd.DataFrame, min_learn: int) -> pd.Series:
    """``auto``: which texts the learned model scores (rated kinds, and texts not in
    English, in a language the rated texts are in), when it beats the lexicon and the
    prior held out (:mod:`cxloop.services.voice.sentiment_choice`); else none.
    :attr:`Voice.sentiment_choice` says which was used and why."""
    none = pd.Series(False, index=texts.index)
    if len(rated) < min_learn:
        v.sentiment_choice = {
            "used": "lexicon",
            "why": f"lexicon: {len(rated):,} rated texts, fewer than the {min_learn} "
            "needed to learn from",
        }
        return none
    default = language_code(v.ws.settings.language, "en")
    lang = texts["lang"].map(lambda x: language_code(x, default))
    covered = set(lang[rated.index])
    english = texts["lang"].fillna("en").str.lower().str.startswith("en")
    wanted = texts["event_type"].isin(["survey_response", "review"]) | ~english
    use = wanted & lang.isin(covered)
    part = texts[use]
    full = bool((~part.index.isin(rated.index)).any())
    _, fitted = v._learned(rated, full=full)
    labels = v._rated_labels(rated).tolist()
    choice = choose(fitted, rated["text"].tolist(), labels, sorted(covered))
    v.sentiment_choice = choice.as_dict()
    uncovered = sorted(set(lang[wanted & ~use]))
    if uncovered and choice.used == "learned":
        v.sentiment_choice["why"] += (
            f"; texts in {', '.join(uncovered)} (no rated text in that language): lexicon"
        )
    return use if choice.used == "learned" else none
