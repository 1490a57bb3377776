"""Settings, declared once as (name, default, help).

The same declarations feed the CLI help, ``docs/settings.md`` (a test fails when
one is undocumented) and :class:`Settings`. Nothing reads the environment at
import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cxloop.errors import ConfigError


@dataclass(frozen=True)
class SettingSpec:
    name: str
    env: str
    default: str
    help: str


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "home",
        "CXLOOP_HOME",
        ".cxloop",
        "Directory of the embedded store (event log, ledger, operational state).",
    ),
    SettingSpec(
        "rules",
        "CXLOOP_RULES",
        "",
        "Promise rules file (TOML); empty means the built-in default rules.",
    ),
    SettingSpec(
        "lock_timeout",
        "CXLOOP_LOCK_TIMEOUT",
        "120",
        "Seconds a writer waits for another writer (ingest, ledger build) to finish.",
    ),
)


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".cxloop")
    rules: Path | None = None
    lock_timeout: float = 120.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from environment variables, then explicit overrides."""
        source = os.environ if env is None else env
        values: dict[str, object] = {s.name: source.get(s.env, s.default) for s in SETTINGS}
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            timeout = float(str(values["lock_timeout"]))
        except ValueError:
            raise ConfigError(
                f"setting lock_timeout (CXLOOP_LOCK_TIMEOUT): expected seconds, "
                f"got {values['lock_timeout']!r}"
            ) from None
        rules = str(values["rules"] or "")
        return cls(
            home=Path(str(values["home"])),
            rules=Path(rules) if rules else None,
            lock_timeout=timeout,
        )
