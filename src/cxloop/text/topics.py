"""Topics found without labels: cluster sentence embeddings, name each cluster by its
most distinctive words, show the texts nearest its centre.

- **Clustering**: k-means on unit-length MiniLM embeddings (so Euclidean distance ranks
  like cosine). Unless ``k`` is given, it is chosen on a geometric grid from 6 to
  ``min(max_k, n / min_size)`` by the mean silhouette (cosine) on a sample: the fewest
  topics whose silhouette is within 0.01 of the best (silhouette keeps creeping up with k
  on sentence embeddings; a reader wants the coarser cut when it is as good).
- **Labels**: class-based TF-IDF — a word's frequency in the cluster times
  ``log(1 + mean words per cluster / the word's frequency in all clusters)`` — on word
  unigrams and bigrams, with English and Portuguese stop words removed; the three top
  terms make the label.
- **Examples**: the distinct texts nearest the cluster's centre.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from cxloop.errors import InputError
from cxloop.text.keywords import fold, tokens

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

FORMAT = "kmeans-silhouette-parsimony/6-30/merge-ctfidf"  # changes with the method (cache key)
STEM = 5  # letters of a word that count when topics are compared for merging
GRID_N_INIT = 1  # k-means restarts per candidate k (the final fit makes 5)
MERGE_THRESHOLD = 0.4  # topics whose word stems are at least this similar (cosine) merge

_URL = re.compile(r"\b(?:https?\s*:\s*//|www\.)\S+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_HASH = re.compile(r"(?<![\w#])#(?=\w)")
_SPACE = re.compile(r"\s+")
#: Words exports put where a link or an attachment was ("... please help link").
PLACEHOLDERS = ("link",)


def clean(text: str, placeholders: Sequence[str] = PLACEHOLDERS) -> str:
    """``text`` without what says who or where rather than what: URLs, e-mail addresses,
    @handles, the # of hashtags (the word stays), and a placeholder word (``link``) that
    ends the text. Topics then group by what people say, not by whom they address."""
    out = _MENTION.sub(" ", _EMAIL.sub(" ", _URL.sub(" ", text)))
    out = _SPACE.sub(" ", _HASH.sub("", out)).strip()
    words = out.rsplit(" ", 1)
    while len(words) == 2 and words[1].strip(".!?,;:").lower() in placeholders:
        out = words[0].rstrip()
        words = out.rsplit(" ", 1)
    return out


def stop_words(languages: Sequence[str]) -> frozenset[str]:
    """Function words to leave out of topic labels: scikit-learn's English list always,
    and the packaged list (``cxloop/text/stopwords/LANG.txt``) of each language given;
    a language without a list adds nothing (see :func:`known_stop_word_languages`)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS)
    for lang in languages:
        words |= _packaged(lang)
    return frozenset(words)


def known_stop_word_languages() -> list[str]:
    folder = resources.files("cxloop.text").joinpath("stopwords")
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))


@cache
def _packaged(lang: str) -> frozenset[str]:
    if lang not in known_stop_word_languages():
        return frozenset()
    text = resources.files("cxloop.text").joinpath("stopwords", f"{lang}.txt").read_text("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@dataclass(frozen=True)
class Topic:
    topic: int
    label: str
    terms: tuple[str, ...]
    size: int
    examples: tuple[str, ...]


@dataclass
class TopicModel:
    """Cluster centres (unit vectors), one label per topic, and the silhouette by k tried."""

    centres: F32
    topics: list[Topic]
    k_scores: dict[int, float] = field(default_factory=dict)
    k_found: int = 0  # clusters before near-duplicates were merged

    @property
    def k(self) -> int:
        return len(self.topics)

    def assign(self, embeddings: F32) -> tuple[I64, npt.NDArray[np.float64]]:
        """Nearest topic and its cosine similarity, per row."""
        if len(embeddings) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        sim = embeddings @ self.centres.T
        best = sim.argmax(axis=1)
        return best.astype(np.int64), sim[np.arange(len(best)), best].astype(np.float64)


def k_grid(n: int, min_size: int, max_k: int, min_k: int = 6) -> list[int]:
    """Candidate topic counts: geometric from ``min_k`` (fewer topics than that tell a
    reader little; two big clusters are often just "happy" and "unhappy") to the most
    that keep ``min_size`` texts per topic on average."""
    top = max(2, min(max_k, n // max(min_size, 1)))
    low = min(min_k, top)
    grid = {low, top, *(round(low * (top / low) ** (i / 9)) for i in range(10))}
    return sorted(k for k in grid if low <= k <= top and k < n)


def discover(
    embeddings: F32,
    texts: Sequence[str],
    k: int | None = None,
    *,
    min_size: int = 25,
    max_k: int = 30,
    n_examples: int = 3,
    seed: int = 0,
    languages: Sequence[str] = ("en",),
    merge_threshold: float = MERGE_THRESHOLD,
) -> tuple[TopicModel, I64]:
    """Topics of ``texts`` (already :func:`clean`) and each text's topic. Clusters whose
    label terms are at least ``merge_threshold`` similar are merged (1 or more: never);
    ``languages``: the texts' languages, for the stop words."""
    from sklearn.cluster import KMeans

    n = len(texts)
    if n != len(embeddings):
        raise InputError(f"{n} texts but {len(embeddings)} embeddings")
    if n < 3:
        raise InputError(f"need at least 3 texts to find topics, got {n}")
    x = np.asarray(embeddings, np.float32)
    scores: dict[int, float] = {}
    if k is None:
        k, scores = _choose_k(x, n, min_size, max_k, seed)
    k = max(1, min(k, n))
    found = KMeans(k, n_init=5, random_state=seed).fit(x).labels_.astype(np.int64)
    stop = stop_words(languages)
    assigned = merge_similar(texts, found, k, stop, merge_threshold)
    k_merged = int(assigned.max()) + 1
    centres = np.stack([x[assigned == c].mean(axis=0) for c in range(k_merged)])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    terms = label_terms(texts, assigned, k_merged, stop=stop)
    topics = []
    for c in range(k_merged):
        members = np.flatnonzero(assigned == c)
        order = members[np.argsort(-(x[members] @ centres[c]))]
        examples = list(dict.fromkeys(texts[i] for i in order[: n_examples * 10]))[:n_examples]
        words = terms[c] or tuple(examples[:1])  # a cluster of stop words: show a text
        topics.append(Topic(c, ", ".join(words[:3]), tuple(words), len(members), tuple(examples)))
    return TopicModel(centres.astype(np.float32), topics, scores, k), assigned


def _choose_k(x: F32, n: int, min_size: int, max_k: int, seed: int) -> tuple[int, dict[int, float]]:
    """The fewest topics whose silhouette (cosine, on a sample) is within 0.01 of the
    best on the grid of :func:`k_grid`."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    sample = rng.choice(n, min(n, 2000), replace=False)
    scores: dict[int, float] = {}
    for candidate in k_grid(n, min_size, max_k):
        labels = KMeans(candidate, n_init=GRID_N_INIT, random_state=seed).fit_predict(x)
        if len(set(labels[sample])) < 2:
            continue
        scores[candidate] = float(silhouette_score(x[sample], labels[sample], metric="cosine"))
    top = max(scores.values(), default=0.0)
    return min((c for c, s in scores.items() if s >= top - 0.01), default=2), scores


def _term_counts(
    texts: Sequence[str], assigned: I64, k: int, stop: frozenset[str], bigrams: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.str_]] | None:
    """Words (and bigrams) counted per cluster; None when there are none but stop words."""
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [" ".join(texts[int(i)] for i in np.flatnonzero(assigned == c)) for c in range(k)]
    try:
        counts = CountVectorizer(
            ngram_range=(1, 2 if bigrams else 1),
            stop_words=sorted(stop),
            token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
        ).fit(docs)
    except ValueError:  # only stop words / numbers
        return None
    matrix = counts.transform(docs).astype(np.float64).toarray()
    return matrix, counts.get_feature_names_out()


def _ctfidf(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Class-based TF-IDF: a term's share of the cluster's words times
    log(1 + mean words per cluster / the term's count in all clusters)."""
    words_per_class = matrix.sum(axis=1, keepdims=True)
    tf = matrix / np.maximum(words_per_class, 1)
    idf = np.log1p(float(words_per_class.mean()) / np.maximum(matrix.sum(axis=0), 1))
    weight: npt.NDArray[np.float64] = tf * idf
    return weight


def _stem_counts(
    texts: Sequence[str], assigned: I64, k: int, stop: frozenset[str]
) -> npt.NDArray[np.float64]:
    """Per cluster, counts of its words' first :data:`STEM` letters (case and accents
    folded, stop words out): "recebi", "receber" and "recebido" count as one."""
    folded = {fold(w) for w in stop}
    vocab: dict[str, int] = {}
    rows: list[dict[int, int]] = [{} for _ in range(k)]
    for text, c in zip(texts, assigned, strict=True):
        row = rows[int(c)]
        for t in tokens(text):
            if len(t) > 1 and not t.isdigit() and t not in folded:
                j = vocab.setdefault(t[:STEM], len(vocab))
                row[j] = row.get(j, 0) + 1
    matrix = np.zeros((k, max(len(vocab), 1)), np.float64)
    for c, row in enumerate(rows):
        for j, n in row.items():
            matrix[c, j] = n
    return matrix


def merge_similar(
    texts: Sequence[str], assigned: I64, k: int, stop: frozenset[str], threshold: float
) -> I64:
    """Clusters merged when their word weights (c-TF-IDF, unigrams) are at least
    ``threshold`` similar (cosine), complete linkage: every pair inside a merged topic is,
    so one broad cluster cannot chain the others into it. Renumbered by size, largest
    first."""
    from scipy.cluster.hierarchy import fcluster, linkage

    group = np.arange(k)
    if threshold < 1 and k > 1:
        w = _ctfidf(_stem_counts(texts, assigned, k, stop))
        w /= np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
        distance = np.clip(1 - w @ w.T, 0, 2)[np.triu_indices(k, 1)]
        tree = linkage(distance, method="complete")
        group = fcluster(tree, t=1 - threshold, criterion="distance") - 1
    sizes = np.bincount(group[assigned], minlength=int(group.max()) + 1)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    out: I64 = rank[group[assigned]].astype(np.int64)
    return out


def label_terms(
    texts: Sequence[str],
    assigned: I64,
    k: int,
    top: int = 6,
    stop: frozenset[str] | None = None,
) -> list[tuple[str, ...]]:
    """The ``top`` most distinctive unigrams/bigrams of each cluster (class-based TF-IDF)."""
    counted = _term_counts(texts, assigned, k, stop or stop_words(["en"]), bigrams=True)
    if counted is None:
        return [() for _ in range(k)]
    matrix, vocab = counted
    weight = _ctfidf(matrix)
    out: list[tuple[str, ...]] = []
    for c in range(k):
        picked: list[str] = []
        for j in np.argsort(-weight[c]):
            if weight[c, j] <= 0 or len(picked) >= top:
                break
            term = str(vocab[j])
            # a bigram made of picked words, or a word inside a picked bigram, adds nothing
            if any(term in p.split() or p in term.split() or term in p for p in picked):
                continue
            picked.append(term)
        out.append(tuple(picked))
    return out
