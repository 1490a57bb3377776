"""Derived voice artifacts (embeddings, topic models, a learned sentiment model), cached
under ``HOME/voice/``: rebuildable, keyed by what they were computed from (the log version,
the options), written atomically. A stale or unreadable artifact is simply recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMAT = "cxloop-artifact/1"


class Artifacts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.pkl"

    @staticmethod
    def key(**parts: object) -> str:
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @staticmethod
    def digest(items: Iterable[object]) -> str:
        """sha256 of ``items`` in order (texts, labels): an artifact keyed by it is reused
        for as long as its inputs are the same, whatever else the log gained."""
        h = hashlib.sha256()
        for item in items:
            h.update(repr(item).encode())
            h.update(b"\x00")
        return h.hexdigest()[:16]

    def get(self, name: str, key: str) -> Any | None:
        """The artifact ``name`` if it was saved with ``key``; None otherwise."""
        try:
            with open(self._path(name), "rb") as f:
                data = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
            return None
        return data["value"]

    def put(self, name: str, key: str, value: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump({"format": FORMAT, "key": key, "value": value}, f)
            os.replace(tmp, self._path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
