"""Reading cxloop's TOML configuration files (rules, policy, detectors, notice templates):
the user's file, or the built-in one shipped in ``cxloop/rules``. Every error starts with
the file it is about."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from cxloop.errors import ConfigError


def read_toml(path: Path | None, builtin: str, what: str) -> tuple[dict[str, Any], str]:
    """The parsed file and how errors should name it. ``builtin``: the packaged file's name;
    ``what``: what the file is ("policy", "rules", …), for the messages."""
    where = f"built-in {what}" if path is None else str(path)
    try:
        if path is None:
            text = resources.files("cxloop.rules").joinpath(builtin).read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), where
    except FileNotFoundError:
        raise ConfigError(f"{where}: {what} file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a {what} file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the {what} file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
