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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cxloop.errors import InputError

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

FORMAT = "kmeans-silhouette-parsimony/6-30"  # changes when the method does (cache key)

#: Portuguese function words (scikit-learn ships English ones only).
PORTUGUESE_STOP_WORDS = frozenset(
    [
        "a",
        "ao",
        "aos",
        "as",
        "até",
        "com",
        "como",
        "da",
        "das",
        "de",
        "dela",
        "dele",
        "deles",
        "do",
        "dos",
        "e",
        "ela",
        "ele",
        "eles",
        "em",
        "entre",
        "era",
        "essa",
        "esse",
        "esta",
        "este",
        "eu",
        "foi",
        "há",
        "isso",
        "isto",
        "já",
        "lhe",
        "mais",
        "mas",
        "me",
        "mesmo",
        "meu",
        "minha",
        "muito",
        "na",
        "nas",
        "nem",
        "no",
        "nos",
        "nossa",
        "nosso",
        "não",
        "o",
        "os",
        "ou",
        "para",
        "pela",
        "pelas",
        "pelo",
        "pelos",
        "por",
        "qual",
        "quando",
        "que",
        "quem",
        "se",
        "sem",
        "ser",
        "seu",
        "sua",
        "são",
        "só",
        "também",
        "te",
        "tem",
        "tinha",
        "um",
        "uma",
        "você",
        "vocês",
        "à",
        "é",
        "está",
        "estão",
        "foram",
        "ter",
        "pois",
        "ainda",
        "ate",
        "nao",
        "voce",
        "ja",
        "tambem",
        "entao",
        "então",
        "sim",
    ]
)


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
) -> tuple[TopicModel, I64]:
    """Topics of ``texts`` and each text's topic."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(texts)
    if n != len(embeddings):
        raise InputError(f"{n} texts but {len(embeddings)} embeddings")
    if n < 3:
        raise InputError(f"need at least 3 texts to find topics, got {n}")
    x = np.asarray(embeddings, np.float32)
    scores: dict[int, float] = {}
    if k is None:
        rng = np.random.default_rng(seed)
        sample = rng.choice(n, min(n, 2000), replace=False)
        for candidate in k_grid(n, min_size, max_k):
            labels = KMeans(candidate, n_init=3, random_state=seed).fit_predict(x)
            if len(set(labels[sample])) < 2:
                continue
            s = float(silhouette_score(x[sample], labels[sample], metric="cosine"))
            scores[candidate] = s
        # parsimony: the fewest topics whose silhouette is within 0.01 of the best
        top = max(scores.values(), default=0.0)
        k = min((c for c, s in scores.items() if s >= top - 0.01), default=2)
    k = max(1, min(k, n))
    fit = KMeans(k, n_init=5, random_state=seed).fit(x)
    assigned = fit.labels_.astype(np.int64)
    centres = fit.cluster_centers_.astype(np.float32)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    terms = label_terms(texts, assigned, k)
    topics = []
    for c in range(k):
        members = np.flatnonzero(assigned == c)
        order = members[np.argsort(-(x[members] @ centres[c]))]
        examples = list(dict.fromkeys(texts[i] for i in order[: n_examples * 10]))[:n_examples]
        words = terms[c] or tuple(examples[:1])  # a cluster of stop words: show a text
        topics.append(Topic(c, ", ".join(words[:3]), tuple(words), len(members), tuple(examples)))
    return TopicModel(centres, topics, scores), assigned


def label_terms(texts: Sequence[str], assigned: I64, k: int, top: int = 6) -> list[tuple[str, ...]]:
    """The ``top`` most distinctive unigrams/bigrams of each cluster (class-based TF-IDF)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    docs = [" ".join(texts[int(i)] for i in np.flatnonzero(assigned == c)) for c in range(k)]
    stop = sorted(ENGLISH_STOP_WORDS | PORTUGUESE_STOP_WORDS)
    try:
        counts = CountVectorizer(
            ngram_range=(1, 2),
            stop_words=stop,
            token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
        ).fit(docs)
    except ValueError:  # only stop words / numbers
        return [() for _ in range(k)]
    matrix = counts.transform(docs).astype(np.float64).toarray()
    vocab = counts.get_feature_names_out()
    words_per_class = matrix.sum(axis=1, keepdims=True)
    tf = matrix / np.maximum(words_per_class, 1)
    mean_words = float(words_per_class.mean())
    idf = np.log1p(mean_words / np.maximum(matrix.sum(axis=0), 1))
    weight = tf * idf
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
