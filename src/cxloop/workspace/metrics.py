"""Loading the score metrics: the built-in scales and the organization's metrics file
(setting ``metrics``); see docs/voice.md."""

from __future__ import annotations

from pathlib import Path

from cxloop.domain.scores import SCALES, Scale, scales_from_dict
from cxloop.workspace.config import read_toml


def load_metrics(path: Path | None) -> dict[str, Scale]:
    """The scales in use: the built-in ones, with the file's metrics replacing or adding to
    them. Every error is a ConfigError naming the file, the metric and the field."""
    if path is None:
        return dict(SCALES)
    data, where = read_toml(path, "", "metrics")
    return scales_from_dict(data, where)
