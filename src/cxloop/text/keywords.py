"""Keyword phrases per language: the matcher ``voice compare`` uses for texts in languages
the embedding model does not read (and as a fallback in those it does).

A phrase is one or more words. Matching is case- and accent-insensitive ("não recebi"
matches ``nao receb*``), apostrophes are dropped ("hasn't" is ``hasnt``), a word ending in
``*`` matches every word it begins ("atras*": atraso, atrasou, atrasada), a word without
one matches itself and its plural (s, es). The words of a phrase must come in order, with
at most ``gap`` other words between two of them ("não foi entregue" matches
``nao entreg*`` with a gap of 1). A text's score for a subject is the number of words of
the distinct phrases it matched, so a long, specific phrase outweighs a short one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cxloop.errors import ConfigError

_APOSTROPHES = re.compile(r"['’`´]")
_WORD = re.compile(r"[^\W_]+")
_PATTERN_WORD = re.compile(r"[^\W_]+\*?")


def fold(text: str) -> str:
    """Lower case, accents removed, apostrophes dropped."""
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", text.lower()))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The words of ``text``, folded (:func:`fold`)."""
    return _WORD.findall(fold(text))


def language_code(value: object, default: str) -> str:
    """The primary language subtag, lower case: ``pt-BR`` -> ``pt``; ``default`` when
    ``value`` is missing or empty."""
    if not isinstance(value, str) or not value.strip():
        return default
    return value.strip().lower().replace("_", "-").split("-")[0]


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # folded; a trailing "*" marks a prefix

    @classmethod
    def parse(cls, text: str, where: str) -> Phrase:
        folded = fold(text)
        words = tuple(_PATTERN_WORD.findall(folded))
        if not words or folded.count("*") != sum(w.endswith("*") for w in words):
            raise ConfigError(
                f"{where}: keyword {text!r}: expected words (letters or digits), each "
                "optionally ending in * (a prefix)"
            )
        return cls(words)

    def regex(self, gap: int) -> re.Pattern[str]:
        """A pattern over the text's folded words joined by single spaces."""

        def one(word: str) -> str:
            if word.endswith("*"):
                return re.escape(word[:-1]) + r"\w*"
            return re.escape(word) + "(?:e?s)?"

        between = rf" (?:\w+ ){{0,{gap}}}"
        return re.compile(r"(?<!\w)" + between.join(one(w) for w in self.words) + r"(?!\w)")


class KeywordMatcher:
    """Subjects' keyword phrases per language: ``{subject: {language: [phrase, ...]}}``."""

    def __init__(self, keywords: Mapping[str, Mapping[str, Sequence[str]]], gap: int = 2) -> None:
        self.gap = gap
        self.subjects = list(keywords)
        self.phrases: dict[str, dict[str, list[tuple[int, re.Pattern[str]]]]] = {}
        for subject, by_lang in keywords.items():
            for lang, phrases in by_lang.items():
                where = f"subject {subject!r}, keywords.{lang}"
                parsed = [Phrase.parse(p, where) for p in phrases]
                self.phrases.setdefault(lang, {})[subject] = [
                    (len(phrase.words), phrase.regex(gap)) for phrase in parsed
                ]

    @property
    def languages(self) -> list[str]:
        return sorted(lang for lang, subjects in self.phrases.items() if subjects)

    def scores(self, text: str, lang: str) -> dict[str, int]:
        """Each subject's score for ``text`` (subjects without a match left out)."""
        joined = " ".join(tokens(text))
        out: dict[str, int] = {}
        for subject, phrases in self.phrases.get(lang, {}).items():
            score = sum(n for n, pattern in phrases if pattern.search(joined))
            if score:
                out[subject] = score
        return out

    def best(self, text: str, lang: str) -> str | None:
        """The subject with the highest score (the first declared on a tie), or None."""
        scores = self.scores(text, lang)
        if not scores:
            return None
        top = max(scores.values())
        return next(s for s in self.subjects if scores.get(s) == top)
