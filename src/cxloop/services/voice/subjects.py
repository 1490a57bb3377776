"""The subjects of ``cxloop voice compare`` (rules/voice.toml, or a file of one's own) and
how each text is matched to one, in the text's own language. See docs/voice.md.

- Texts in a language the embedding model reads (``embedding_languages``, English for the
  packaged MiniLM): by meaning first (cosine to the subjects' example phrases, at least
  ``match_threshold``), else by the subject's keywords in that language.
- Texts in any other language: by the subject's keywords in that language
  (:mod:`cxloop.text.keywords`). A language no subject has keywords for matches nothing,
  and the result says how many texts that left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxloop.errors import ConfigError
from cxloop.services.voice.analysis import Voice
from cxloop.text.keywords import KeywordMatcher, language_code
from cxloop.workspace.config import read_toml

TOP_FIELDS = {"version", "match_threshold", "embedding_languages", "keyword_gap", "extends"}
SUBJECT_FIELDS = {"kind", "department", "title", "phrases", "keywords"}


@dataclass(frozen=True)
class Subject:
    key: str
    kind: str
    department: str
    title: str
    phrases: tuple[str, ...]
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Subjects:
    """The subjects and how texts are matched to them."""

    subjects: list[Subject]
    threshold: float
    embedding_languages: tuple[str, ...]
    gap: int

    def matcher(self) -> KeywordMatcher:
        return KeywordMatcher({s.key: s.keywords for s in self.subjects}, self.gap)


def _text_list(value: object, where: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise ConfigError(f"{where}: {name}: expected a list of texts")
    return tuple(value)


def _subject(key: str, entry: Any, where: str) -> Subject:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: subject {key!r}: expected a table")
    unknown = sorted(set(entry) - SUBJECT_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: subject {key!r}: unknown field {unknown[0]!r}")
    for name in ("kind", "department", "title"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            raise ConfigError(f"{where}: subject {key!r}, field {name!r}: expected text")
    phrases: tuple[str, ...] = ()
    if "phrases" in entry:
        phrases = _text_list(entry["phrases"], where, f"subject {key!r}, field 'phrases'")
    raw = entry.get("keywords", {})
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: subject {key!r}, field 'keywords': expected a table of language = "
            "[phrases] (keywords.pt = [...])"
        )
    keywords = {
        language_code(lang, ""): _text_list(v, where, f"subject {key!r}, keywords.{lang}")
        for lang, v in raw.items()
    }
    if not phrases and not any(keywords.values()):
        raise ConfigError(
            f"{where}: subject {key!r}: expected example phrases or keywords (field 'phrases' "
            "or 'keywords')"
        )
    return Subject(key, entry["kind"], entry["department"], entry["title"], phrases, keywords)


def _extend(base: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` on top of ``base``: fields replaced, keywords added per language."""
    merged = base | {k: v for k, v in data.items() if k not in ("subjects", "extends")}
    subjects = dict(base.get("subjects", {}))
    for key, entry in (data.get("subjects") or {}).items():
        old = subjects.get(key)
        if isinstance(old, dict) and isinstance(entry, dict):
            words = dict(old.get("keywords", {}))
            for lang, more in (entry.get("keywords") or {}).items():
                words[lang] = [*words.get(lang, []), *more] if isinstance(more, list) else more
            entry = old | entry | {"keywords": words}
        subjects[key] = entry
    return merged | {"subjects": subjects}


def _read(path: Path | None) -> tuple[dict[str, Any], str]:
    data, where = read_toml(path, "voice.toml", "voice subjects")
    extends = data.get("extends")
    if extends is None:
        return data, where
    if extends != "built-in":
        raise ConfigError(f"{where}: field 'extends': expected \"built-in\", got {extends!r}")
    base, _ = read_toml(None, "voice.toml", "voice subjects")
    return _extend(base, data), where


def load(path: Path | None = None) -> Subjects:
    """The subjects of ``cxloop voice compare`` (rules/voice.toml by default)."""
    data, where = _read(path)
    unknown = sorted(set(data) - TOP_FIELDS - {"subjects"})
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}")
    threshold = data.get("match_threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise ConfigError(f"{where}: field 'match_threshold': expected a number in (0, 1)")
    gap = data.get("keyword_gap", 2)
    if not isinstance(gap, int) or isinstance(gap, bool) or not 0 <= gap <= 10:
        raise ConfigError(f"{where}: field 'keyword_gap': expected a whole number from 0 to 10")
    langs = _text_list(data.get("embedding_languages", ["en"]), where, "embedding_languages")
    entries = data.get("subjects")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{where}: expected one or more [subjects.NAME] tables")
    subjects = [_subject(key, entry, where) for key, entry in entries.items()]
    out = Subjects(subjects, float(threshold), tuple(language_code(x, "") for x in langs), gap)
    try:
        out.matcher()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return out


def load_subjects(path: Path | None = None) -> tuple[list[Subject], float]:
    """The subjects and the embedding threshold (kept for callers of the first version)."""
    s = load(path)
    return s.subjects, s.threshold


def _by_meaning(v: Voice, rows: pd.DataFrame, config: Subjects) -> pd.Series:
    """Per row, the subject whose example phrase is most similar, if at least the
    threshold (None otherwise)."""
    subjects = [s for s in config.subjects if s.phrases]
    out = pd.Series(None, index=rows.index, dtype=object)
    if rows.empty or not subjects:
        return out
    phrases = [(i, p) for i, s in enumerate(subjects) for p in s.phrases]
    phrase_vecs = v.embed([p for _, p in phrases])  # cached by text like the answers
    owner = np.array([i for i, _ in phrases])
    sim_all = v.embeddings(rows) @ phrase_vecs.T
    best = np.stack([sim_all[:, owner == i].max(axis=1) for i in range(len(subjects))], axis=1)
    keys = np.array([s.key for s in subjects], dtype=object)
    picked = np.where(best.max(axis=1) >= config.threshold, keys[best.argmax(axis=1)], None)
    return pd.Series(picked, index=rows.index, dtype=object)


def match(
    v: Voice, texts: pd.DataFrame, config: Subjects, language: str
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per text row: its language, its subject (None: no match) and how it was matched
    (``embedding``, ``keywords`` or None)."""
    lang = texts["lang"].map(lambda x: language_code(x, language)).astype(object)
    subject = pd.Series(None, index=texts.index, dtype=object)
    how = pd.Series(None, index=texts.index, dtype=object)
    by_meaning = lang.isin(config.embedding_languages)
    found = _by_meaning(v, texts[by_meaning], config)
    subject[found.index] = found
    how[found.dropna().index] = "embedding"
    matcher = config.matcher()
    todo = subject.isna() & lang.isin(matcher.languages)
    for i in texts.index[todo]:
        best = matcher.best(str(texts.at[i, "text"]), str(lang[i]))
        if best is not None:
            subject[i], how[i] = best, "keywords"
    return lang, subject, how


def subject_texts(
    v: Voice, subjects_path: Path | None = None
) -> tuple[list[Subject], pd.DataFrame]:
    """The subjects, and every text with its sentiment, ``lang``, ``subject`` (None when it
    matches none) and ``matched_by``: customers' texts in their own language, employees'
    by their ``about`` tag first."""
    config = load(subjects_path)
    texts = v.frame[v.frame["text"].notna()].join(v.sentiment)
    language = language_code(v.ws.settings.language, "en")
    lang, subject, how = match(v, texts, config, language)
    staff = texts["voice"] == "employee"
    tagged = staff & texts["about"].notna()
    subject[tagged] = texts.loc[tagged, "about"]
    how[tagged] = "about"
    out = texts.assign(lang=lang, subject=subject, matched_by=how)
    unread = ~lang.isin([*config.matcher().languages, *config.embedding_languages])
    out.attrs |= {
        "threshold": config.threshold,
        "language": language,
        "matched_by": {str(k): int(n) for k, n in how.value_counts().items()},
        "languages_without_keywords": {
            str(k): int(n) for k, n in lang[unread & ~tagged].value_counts().items()
        },
    }
    return config.subjects, out
