"""Voice benchmarks on public data: embedding throughput against sentence-transformers called
directly, unsupervised topics against the Banking77 intents (NMI/ARI), sentiment learned
from Olist star ratings against a plain TF-IDF + logistic regression, and the intent
classifier on Banking77 (:mod:`bench.voice_intents`).

::

    python -m bench.voice [--quick] [--data ../shared/data]   # prints JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import voice_intents

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
EMBED_TARGET = 0.9  # cxloop's embeddings/s over sentence-transformers' own


def _best(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def embeddings(data: Path, quick: bool) -> dict[str, Any]:
    from cxloop.text.embed import BATCH_SIZE, Embedder, load_model

    texts = pd.read_csv(data / "banking77" / "train.csv").text.drop_duplicates().tolist()
    texts = texts[: 2000 if quick else 10000]
    model = load_model()
    model.encode(texts[:256], batch_size=BATCH_SIZE)  # warm-up

    def raw() -> None:
        model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True)

    def ours() -> None:
        Embedder().encode(texts)  # a fresh cache each run: every text is encoded

    runs = 1 if quick else 3
    raw_s, ours_s = [], []
    for _ in range(runs):  # interleaved, so both see the same machine load
        raw_s.append(_best(raw, 1))
        ours_s.append(_best(ours, 1))
    return {
        "texts": len(texts),
        "raw_seconds": min(raw_s),
        "ours_seconds": min(ours_s),
        "raw_rate": len(texts) / min(raw_s),
        "ours_rate": len(texts) / min(ours_s),
        "ratio": min(raw_s) / min(ours_s),
        "runs": runs,
    }


def topics(data: Path, quick: bool) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from cxloop.text.embed import Embedder
    from cxloop.text.topics import discover

    test = pd.read_csv(data / "banking77" / "test.csv")
    if quick:
        test = test.sample(800, random_state=0)
    x = Embedder().encode(test.text.tolist())
    out: dict[str, Any] = {"texts": len(test), "intents": int(test.category.nunique())}
    for name, k in (("auto", None), ("k_true", int(test.category.nunique()))):
        t = time.perf_counter()
        model, assigned = discover(x, test.text.tolist(), k)
        out[name] = {
            "k": model.k,
            "nmi": float(normalized_mutual_info_score(test.category, assigned)),
            "ari": float(adjusted_rand_score(test.category, assigned)),
            "seconds": time.perf_counter() - t,
        }
    return out


def sentiment(data: Path) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from cxloop.text.sentiment import LABELS, StarSentiment, stars_to_label

    r = pd.read_csv(data / "olist" / "olist_order_reviews_dataset.csv")
    text = r.review_comment_title.fillna("") + ". " + r.review_comment_message.fillna("")
    r = r.assign(text=text.str.strip(". ")).query("text != ''")
    y = stars_to_label(r.review_score)
    x_tr, x_te, y_tr, y_te = train_test_split(
        r.text.tolist(), y, test_size=0.25, random_state=0, stratify=y
    )
    t = time.perf_counter()
    ours = StarSentiment().fit(x_tr, list(y_tr))
    ours_train = time.perf_counter() - t
    t = time.perf_counter()
    vec = TfidfVectorizer()
    base = LogisticRegression(max_iter=1000).fit(vec.fit_transform(x_tr), y_tr)
    base_train = time.perf_counter() - t
    pred_ours, pred_base = ours.predict(x_te), base.predict(vec.transform(x_te))

    def per_class(pred: Any) -> dict[str, float]:
        f = f1_score(y_te, pred, labels=list(LABELS), average=None)
        return {label: float(v) for label, v in zip(LABELS, f, strict=True)}

    return {
        "train": len(x_tr),
        "test": len(x_te),
        "classes": {k: int(v) for k, v in zip(*np.unique(y, return_counts=True), strict=True)},
        "ours": {
            "macro_f1": float(f1_score(y_te, pred_ours, average="macro")),
            "per_class": per_class(pred_ours),
            "train_seconds": ours_train,
        },
        "baseline": {
            "macro_f1": float(f1_score(y_te, pred_base, average="macro")),
            "per_class": per_class(pred_base),
            "train_seconds": base_train,
        },
    }


def run(data: Path, quick: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fn in (
        ("embeddings", lambda: embeddings(data, quick)),
        ("topics", lambda: topics(data, quick)),
        ("sentiment", lambda: sentiment(data)),
        ("intents", lambda: voice_intents.run(data)),
    ):
        print(f"[voice] {name}…", file=sys.stderr, flush=True)
        try:
            out[name] = fn()
        except Exception as exc:  # one failing part must not hide the others' figures
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def section(res: Any) -> list[str]:
    lines = ["## Voice (text analytics on public data)", ""]
    if not isinstance(res, dict):
        return [*lines, f"**Did not complete:** {res}", ""]
    e = res.get("embeddings")
    lines += ["### Embeddings: cxloop against sentence-transformers called directly", ""]
    if isinstance(e, dict):
        met = "yes" if e["ratio"] >= EMBED_TARGET else "**no**"
        lines += [
            f"{e['texts']:,} distinct Banking77 training texts, all-MiniLM-L6-v2 on CPU, batch 64, "
            f"fastest of {e['runs']} interleaved runs (cxloop with an empty cache each run).",
            "",
            "| | seconds | texts/s |",
            "|---|---:|---:|",
            f"| `SentenceTransformer.encode` | {e['raw_seconds']:.1f} | {e['raw_rate']:,.0f} |",
            f"| cxloop `Embedder.encode` | {e['ours_seconds']:.1f} | {e['ours_rate']:,.0f} |",
            "",
            f"Ratio {e['ratio']:.2f}x the library's own speed (target >= {EMBED_TARGET}x: {met}).",
            "",
        ]
    else:
        lines += [f"**Did not complete:** {e}", ""]
    t = res.get("topics")
    lines += ["### Topics without labels: Banking77 test texts against the true intents", ""]
    if isinstance(t, dict):
        lines += [
            f"{t['texts']:,} texts, {t['intents']} intents; MiniLM embeddings + k-means "
            "(docs/voice.md). NMI = normalized mutual information, ARI = adjusted Rand index.",
            "",
            "| k | how | NMI | ARI | seconds |",
            "|---:|---|---:|---:|---:|",
        ]
        for name, how in (
            ("auto", "chosen by silhouette (default)"),
            ("k_true", "set to the number of intents"),
        ):
            r = t[name]
            lines.append(
                f"| {r['k']} | {how} | {r['nmi']:.3f} | {r['ari']:.3f} | {r['seconds']:.1f} |"
            )
        lines += [""]
    else:
        lines += [f"**Did not complete:** {t}", ""]
    s = res.get("sentiment")
    lines += ["### Sentiment learned from Olist star ratings (Portuguese)", ""]
    if isinstance(s, dict):
        cls = ", ".join(f"{k} {v:,}" for k, v in s["classes"].items())
        lines += [
            f"Reviews with a title or comment ({cls}); stratified 75/25 split (seed 0): "
            f"{s['train']:,} to train, {s['test']:,} to test. Negative = 1-2 stars, neutral = 3, "
            "positive = 4-5.",
            "",
            "| model | macro-F1 | F1 negative | F1 neutral | F1 positive | train s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, label in (
            ("ours", "cxloop `StarSentiment` (word + char n-grams, balanced)"),
            ("baseline", "plain `TfidfVectorizer()` + `LogisticRegression()`"),
        ):
            r = s[name]
            pc = r["per_class"]
            lines.append(
                f"| {label} | {r['macro_f1']:.3f} | {pc['negative']:.3f} | {pc['neutral']:.3f} "
                f"| {pc['positive']:.3f} | {r['train_seconds']:.1f} |"
            )
        lines += [""]
    else:
        lines += [f"**Did not complete:** {s}", ""]
    i = res.get("intents")
    if isinstance(i, dict):
        lines += voice_intents.section(i)
    else:
        lines += ["### Intents: Banking77", "", f"**Did not complete:** {i}", ""]
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
