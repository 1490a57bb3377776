"""Intent classification for short customer messages, with a scikit-learn-like API.

Features: MiniLM sentence embeddings (by default fine-tuned for one epoch on the training
texts with a cosine-softmax head) next to TF-IDF word 1-2-grams and character 2-5-grams,
into a multinomial logistic regression, whose ``predict_proba`` are real probabilities.

A saved model is a directory (``meta.json``, ``model.joblib``, ``encoder/`` when the encoder
was fine-tuned). ``model.joblib`` is a pickle: load only models you trust.
"""

from __future__ import annotations

import csv
import json
import math
import pickle
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cxloop.errors import ConfigError, InputError, MappingError
from cxloop.text.embed import BATCH_SIZE, Embedder, model_path, offline

FORMAT = "cxloop-intent-model"
FORMAT_VERSION = 1
META, PARTS, ENCODER = "meta.json", "model.joblib", "encoder"
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class IntentClassifier:
    """Predict a message's intent label from labelled examples.

    ``finetune_epochs`` > 0 first fine-tunes the MiniLM encoder on the training texts
    (CPU, a few minutes for 10k short texts); 0 keeps the packaged encoder frozen.
    """

    def __init__(
        self,
        *,
        C: float = 10.0,
        embedding_weight: float = 2.0,
        finetune_epochs: int = 1,
        finetune_lr: float = 1e-4,
        batch_size: int = 32,
        max_iter: int = 2000,
        seed: int = 0,
    ) -> None:
        self.C = C
        self.embedding_weight = embedding_weight
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.seed = seed
        self.classes_: npt.NDArray[np.str_] = np.array([], dtype=str)
        self.converged_ = True
        self._word: Any = None
        self._char: Any = None
        self._linear: Any = None
        self._encoder: Any = None  # a fine-tuned SentenceTransformer; None: the packaged one

    # ------------------------------------------------------------ estimator API
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        """Learn from ``texts`` and their ``labels``; returns ``self``."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts, y = _check_fit(texts, labels)
        self.classes_ = np.array(sorted(set(y)), dtype=str)
        index = {c: i for i, c in enumerate(self.classes_)}
        targets = np.array([index[c] for c in y], dtype=np.int64)
        self._encoder = None
        if self.finetune_epochs > 0:
            self._encoder = finetune_encoder(
                texts,
                targets,
                len(self.classes_),
                epochs=self.finetune_epochs,
                lr=self.finetune_lr,
                batch_size=self.batch_size,
                seed=self.seed,
            )
        self._word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        features = self._features(texts, fit=True)
        self._linear = LogisticRegression(C=self.C, max_iter=self.max_iter)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self._linear.fit(features, targets)
        self.converged_ = True
        for w in caught:  # a convergence warning becomes ``converged_``; others pass on
            if issubclass(w.category, ConvergenceWarning):
                self.converged_ = False
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return self

    def predict_proba(self, texts: Sequence[str]) -> F64:
        """Class probabilities, one row per text, columns in :attr:`classes_` order."""
        linear = self._linear_model()
        if not len(texts):
            return np.zeros((0, len(self.classes_)))
        proba: F64 = linear.predict_proba(self._features(texts))
        return proba

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.str_]:
        """The most probable label of each text."""
        if not len(texts):
            return np.array([], dtype=self.classes_.dtype)
        result: npt.NDArray[np.str_] = self.classes_[self.predict_proba(texts).argmax(axis=1)]
        return result

    def score(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        """Accuracy on ``texts`` against ``labels``."""
        _check_lengths(texts, labels)
        return float(np.mean(self.predict(texts) == np.asarray(labels, dtype=str)))

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model to the directory ``path`` (created or overwritten)."""
        import joblib

        folder = Path(path)
        self._linear_model()
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder}: is a file; a model is saved as a directory")
        if folder.exists() and not (folder / META).is_file() and any(folder.iterdir()):
            raise InputError(f"{folder}: exists and is not a cxloop intent model; not overwritten")
        folder.mkdir(parents=True, exist_ok=True)
        if self._encoder is not None:
            self._encoder.save(str(folder / ENCODER))
        elif (folder / ENCODER).exists():
            import shutil

            shutil.rmtree(folder / ENCODER)
        joblib.dump(
            {"word": self._word, "char": self._char, "linear": self._linear}, folder / PARTS
        )
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "classes": self.classes_.tolist(),
            "params": self.get_params(),
            "converged": self.converged_,
            "finetuned_encoder": self._encoder is not None,
        }
        (folder / META).write_text(json.dumps(meta, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> IntentClassifier:
        """Read a model written by :meth:`save` (a trusted file: it holds a pickle)."""
        import joblib

        folder = Path(path)
        try:
            meta = json.loads((folder / META).read_text())
            ok = isinstance(meta, dict) and meta.get("format") == FORMAT
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"{folder}: not a cxloop intent model (no valid {META})")
        if meta.get("version") != FORMAT_VERSION:
            raise InputError(
                f"{folder}: intent model format version {meta.get('version')}, "
                f"this cxloop reads version {FORMAT_VERSION}"
            )
        model = cls(**meta["params"])
        try:
            parts = joblib.load(folder / PARTS)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            raise InputError(f"{folder}: cannot read {PARTS} ({exc})") from exc
        model._word, model._char, model._linear = parts["word"], parts["char"], parts["linear"]
        model.classes_ = np.array(meta["classes"], dtype=str)
        model.converged_ = bool(meta.get("converged", True))
        if meta.get("finetuned_encoder"):
            offline()
            from sentence_transformers import SentenceTransformer

            try:
                model._encoder = SentenceTransformer(str(folder / ENCODER), device="cpu")
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"{folder}: cannot read the fine-tuned {ENCODER}/ ({exc})"
                ) from exc
        return model

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments."""
        names = ("C", "embedding_weight", "finetune_epochs", "finetune_lr", "batch_size")
        return {n: getattr(self, n) for n in (*names, "max_iter", "seed")}

    # ------------------------------------------------------------ internals
    def _linear_model(self) -> Any:
        if self._linear is None:
            raise ConfigError("IntentClassifier is not fitted: call fit() or load() first")
        return self._linear

    def _embed(self, texts: Sequence[str]) -> F32:
        if self._encoder is None:
            return Embedder().encode(texts)
        vectors = self._encoder.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _features(self, texts: Sequence[str], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        texts = [str(t) for t in texts]
        word, char = self._word, self._char
        return hstack(
            [
                word.fit_transform(texts) if fit else word.transform(texts),
                char.fit_transform(texts) if fit else char.transform(texts),
                self.embedding_weight * self._embed(texts),
            ],
            format="csr",
        )


def finetune_encoder(
    texts: Sequence[str],
    targets: npt.NDArray[np.int64],
    n_classes: int,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    seed: int = 0,
    scale: float = 20.0,
) -> Any:
    """A copy of the packaged MiniLM fine-tuned to separate the classes: a cosine-softmax
    head (scale ``scale``) on its unit embeddings, AdamW, linear warm-up and decay. Batches
    hold texts of similar length (less padding); the word-embedding table stays frozen."""
    import torch
    from sentence_transformers import SentenceTransformer
    from torch.nn.functional import cross_entropy, normalize

    offline()
    with torch.random.fork_rng(devices=[]):  # seeded here; the caller's state is kept
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model: Any = SentenceTransformer(str(model_path()), device="cpu")
        model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
        dim = int(model.get_embedding_dimension())
        head = torch.nn.Parameter(torch.randn(n_classes, dim) / math.sqrt(dim))
        tuned = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": tuned, "lr": lr}, {"params": [head], "lr": lr * 20, "weight_decay": 0.0}],
            weight_decay=0.01,
        )
        lengths = np.array([len(t) for t in texts])
        per_epoch = math.ceil(len(texts) / batch_size)
        total, warmup = epochs * per_epoch, max(1, epochs * per_epoch // 10)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))),
        )
        y = torch.as_tensor(targets)
        model.train()
        for _ in range(epochs):
            for batch in _length_batches(lengths, batch_size, rng):
                features = model.preprocess([texts[i] for i in batch])
                emb = model(features)["sentence_embedding"]
                logits = scale * normalize(emb, dim=1) @ normalize(head, dim=1).T
                loss: Any = cross_entropy(logits, y[batch])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(tuned, 1.0)
                optimizer.step()
                scheduler.step()
        model.eval()
    return model


def _length_batches(
    lengths: npt.NDArray[np.int64], size: int, rng: np.random.Generator
) -> list[npt.NDArray[np.int64]]:
    """Shuffled batches of indices, each from a run of similar lengths."""
    order = rng.permutation(len(lengths))
    batches: list[npt.NDArray[np.int64]] = []
    pool = size * 50
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def read_labelled_csv(
    path: str | Path, text_col: str, label_col: str
) -> tuple[list[str], list[str]]:
    """The texts and labels of a CSV file. A missing column, or rows with an empty text or
    label, raise an error naming the file (and the first bad rows, first data row = 1)."""
    texts, labels = _read_columns(Path(path), [text_col, label_col], required=True)
    return texts, labels


def read_texts_csv(path: str | Path, text_col: str) -> list[str]:
    """The texts of a CSV file, one per data row (an empty cell gives an empty text, so
    results stay aligned with the rows)."""
    return _read_columns(Path(path), [text_col], required=False)[0]


def _read_columns(path: Path, names: list[str], required: bool) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or [])
            missing = [c for c in names if c not in columns]
            if missing:
                raise MappingError(
                    f"{path}: no column {', '.join(repr(c) for c in missing)}; "
                    f"the columns are {', '.join(repr(c) for c in columns) or '(none)'}"
                )
            values: list[list[str]] = [[] for _ in names]
            bad: list[str] = []
            for row_number, row in enumerate(reader, start=1):
                for name, out in zip(names, values, strict=True):
                    out.append((row.get(name) or "").strip())
                    if required and not out[-1]:
                        bad.append(f"row {row_number}: empty {name!r}")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read as CSV ({exc})") from exc
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise InputError(f"{path}: {len(bad)} empty fields: {'; '.join(bad[:5])}{more}")
    if not values[0]:
        raise InputError(f"{path}: no data rows")
    return values


def fit_csv(
    path: str | Path, text_col: str, label_col: str, model_path: str | Path, **params: Any
) -> dict[str, Any]:
    """Fit an :class:`IntentClassifier` (``params``: its constructor arguments) on a CSV file
    and save it at ``model_path``; returns a summary."""
    texts, labels = read_labelled_csv(path, text_col, label_col)
    started = time.perf_counter()
    model = IntentClassifier(**params).fit(texts, labels)
    seconds = time.perf_counter() - started
    model.save(model_path)
    return {
        "n": len(texts),
        "classes": model.classes_.tolist(),
        "seconds": round(seconds, 3),
        "model": str(model_path),
        "converged": model.converged_,
        "params": model.get_params(),
    }


def evaluate(
    model: IntentClassifier, texts: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class figures of ``model`` on labelled texts. A label the
    model never saw counts as an error for that text."""
    from sklearn.metrics import precision_recall_fscore_support

    _check_lengths(texts, labels)
    if not len(texts):
        raise InputError("no texts to evaluate on")
    started = time.perf_counter()
    predicted = model.predict(texts).tolist()
    seconds = time.perf_counter() - started
    truth = [str(label) for label in labels]
    names = sorted(set(truth) | set(predicted))
    p, r, f, s = precision_recall_fscore_support(
        truth, predicted, labels=names, average=None, zero_division=0
    )
    per_class = [
        {
            "label": n,
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, n in enumerate(names)
    ]
    return {
        "accuracy": float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)])),
        "macro_f1": float(np.mean(f)),  # over true and predicted labels, as scikit-learn
        "n": len(truth),
        "classes": sorted(set(truth)),
        "unseen_labels": sorted(set(truth) - set(model.classes_.tolist())),
        "per_class": per_class,
        "seconds": round(seconds, 3),
        "texts_per_second": round(len(truth) / seconds, 1) if seconds > 0 else None,
    }


def _check_lengths(texts: Sequence[str], labels: Sequence[str]) -> None:
    if len(texts) != len(labels):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels: they must pair up")


def _check_fit(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    _check_lengths(texts, labels)
    if not len(texts):
        raise InputError("no training texts")
    empty = [i for i, t in enumerate(texts) if not str(t).strip()]
    if empty:
        raise InputError(f"{len(empty)} empty training texts (first at index {empty[0]})")
    y = [str(label) for label in labels]
    if len(set(y)) < 2:
        raise InputError(f"need at least 2 distinct labels to learn from, got {sorted(set(y))}")
    return [str(t) for t in texts], y
