"""Settings, declared once as (name, default, help).

The same declarations feed the CLI help, ``docs/settings.md`` (a test fails when
one is undocumented) and :class:`Settings`. Nothing reads the environment at
import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cxloop.domain.promises import parse_duration
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
    SettingSpec(
        "compact_segments",
        "CXLOOP_COMPACT_SEGMENTS",
        "64",
        "Rewrite the event log as one segment once an ingest leaves this many (0: never; "
        "`cxloop compact` does it on demand).",
    ),
    SettingSpec(
        "database_url",
        "CXLOOP_DATABASE_URL",
        "",
        "PostgreSQL URL (postgresql://user:password@host:port/db) holding the operational "
        "state and the event log, analysed there; empty means the embedded store in home "
        "(SQLite + Parquet). Apply its migrations with `cxloop migrate`.",
    ),
    SettingSpec(
        "engine",
        "CXLOOP_ENGINE",
        "",
        "What runs the analytics: empty picks the store's own (DuckDB for the embedded "
        "store, PostgreSQL for a database_url); `spark` reads the Parquet event log with "
        "Spark (docs/scale-out.md).",
    ),
    SettingSpec(
        "spark_master",
        "CXLOOP_SPARK_MASTER",
        "local[2]",
        "Spark master for engine=spark (local[N], spark://host:7077, yarn, ...).",
    ),
    SettingSpec(
        "spark_remote",
        "CXLOOP_SPARK_REMOTE",
        "",
        "Spark Connect URL (sc://host:15002) for engine=spark; when set, used instead of "
        "spark_master.",
    ),
    SettingSpec(
        "spark_events",
        "CXLOOP_SPARK_EVENTS",
        "",
        "Parquet path Spark reads the event log from (a directory written by `cxloop export`, "
        "e.g. s3a://bucket/cx/events); empty means the segments of the store in home.",
    ),
    SettingSpec(
        "spark_output",
        "CXLOOP_SPARK_OUTPUT",
        "",
        "Directory Spark writes results (the ledger) to, visible to every executor "
        "(e.g. s3a://bucket/cx/out); empty means home/ledger.",
    ),
    SettingSpec(
        "policy",
        "CXLOOP_POLICY",
        "",
        "Empowerment policy file (TOML); empty means the built-in policy (docs/policy.md).",
    ),
    SettingSpec(
        "actor",
        "CXLOOP_ACTOR",
        "",
        "Who acts on cases (grants, approvals, resolutions) when --actor is not given.",
    ),
    SettingSpec(
        "role",
        "CXLOOP_ROLE",
        "agent",
        "The actor's role in the empowerment policy when --role is not given.",
    ),
    SettingSpec("smtp_host", "CXLOOP_SMTP_HOST", "127.0.0.1", "SMTP server for e-mail notices."),
    SettingSpec("smtp_port", "CXLOOP_SMTP_PORT", "25", "Port of the SMTP server."),
    SettingSpec(
        "smtp_sender",
        "CXLOOP_SMTP_SENDER",
        "care@localhost",
        "From address of e-mail notices (also the envelope sender).",
    ),
    SettingSpec(
        "smtp_security",
        "CXLOOP_SMTP_SECURITY",
        "none",
        "How to secure the SMTP connection: none, starttls, or ssl (TLS from the start).",
    ),
    SettingSpec(
        "smtp_username",
        "CXLOOP_SMTP_USERNAME",
        "",
        "SMTP login name; empty means no login.",
    ),
    SettingSpec("smtp_password", "CXLOOP_SMTP_PASSWORD", "", "SMTP login password."),
    SettingSpec(
        "webhook_url",
        "CXLOOP_WEBHOOK_URL",
        "",
        "URL that webhook notices are POSTed to (http or https).",
    ),
    SettingSpec(
        "webhook_secret",
        "CXLOOP_WEBHOOK_SECRET",
        "",
        "Key for the X-Cxloop-Signature HMAC-SHA256 of each webhook body; empty means unsigned.",
    ),
    SettingSpec(
        "brief_warn_within",
        "CXLOOP_BRIEF_WARN_WITHIN",
        "28d",
        "How long after a systemic failure's window ended the brief still says 'tell the "
        "customers before they call' (a duration: 28d, 2w, 36h).",
    ),
    SettingSpec(
        "brief_recover_within",
        "CXLOOP_BRIEF_RECOVER_WITHIN",
        "90d",
        "How long after a systemic failure's window ended the brief still lists it, as a "
        "failure to recover from (apologise, make good); after that it is history.",
    ),
)

SMTP_SECURITY = ("none", "starttls", "ssl")
ENGINES = ("", "duckdb", "postgres", "spark")


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".cxloop")
    rules: Path | None = None
    lock_timeout: float = 120.0
    compact_segments: int = 64
    database_url: str = ""
    engine: str = ""
    spark_master: str = "local[2]"
    spark_remote: str = ""
    spark_events: str = ""
    spark_output: str = ""
    policy: Path | None = None
    actor: str = ""
    role: str = "agent"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "care@localhost"
    smtp_security: str = "none"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    webhook_url: str = ""
    webhook_secret: str | None = field(default=None, repr=False)
    brief_warn_within: timedelta = timedelta(days=28)
    brief_recover_within: timedelta = timedelta(days=90)

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
        try:
            compact = int(str(values["compact_segments"]))
        except ValueError:
            raise _problem(
                "compact_segments", "a whole number", values["compact_segments"]
            ) from None
        if compact < 0:
            raise _problem("compact_segments", "0 (never) or more", compact)
        url = str(values["database_url"] or "").strip()
        if url and not url.lower().startswith(("postgresql://", "postgres://")):
            raise _problem("database_url", "a postgresql:// URL (or empty)", url)
        engine = str(values["engine"] or "").strip().lower()
        if engine not in ENGINES:
            raise _problem("engine", "empty, " + ", ".join(e for e in ENGINES if e), engine)
        if engine == "spark" and url:
            raise _problem(
                "engine", "not spark with a database_url (Spark reads the Parquet log)", engine
            )
        if engine == "duckdb" and url:
            raise _problem("engine", "empty or postgres with a database_url", engine)
        if engine == "postgres" and not url:
            raise _problem("engine", "postgres only with a database_url", engine)
        rules = str(values["rules"] or "")
        policy = str(values["policy"] or "")
        return cls(
            home=Path(str(values["home"])),
            rules=Path(rules) if rules else None,
            lock_timeout=timeout,
            compact_segments=compact,
            database_url=url,
            engine=engine or ("postgres" if url else "duckdb"),
            spark_master=str(values["spark_master"] or "local[2]"),
            spark_remote=str(values["spark_remote"] or "").strip(),
            spark_events=str(values["spark_events"] or "").strip(),
            spark_output=str(values["spark_output"] or "").strip(),
            policy=Path(policy) if policy else None,
            actor=str(values["actor"]),
            role=str(values["role"]) or "agent",
            **_channel_settings(values),
            **_brief_settings(values),
        )


def _problem(name: str, expected: str, value: object) -> ConfigError:
    env = next(s.env for s in SETTINGS if s.name == name)
    return ConfigError(f"setting {name} ({env}): expected {expected}, got {value!r}")


def _brief_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The brief's horizons: durations, warn within recover."""
    out: dict[str, timedelta] = {}
    for name in ("brief_warn_within", "brief_recover_within"):
        value = values[name]
        try:
            out[name] = value if isinstance(value, timedelta) else parse_duration(str(value))
        except ValueError:
            raise _problem(name, "a duration like 28d, 2w or 36h", value) from None
    if out["brief_recover_within"] < out["brief_warn_within"]:
        raise _problem(
            "brief_recover_within",
            f"at least brief_warn_within ({out['brief_warn_within']})",
            values["brief_recover_within"],
        )
    return out


def _channel_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The notification channels' settings, checked."""
    try:
        port = int(str(values["smtp_port"]))
    except ValueError:
        raise _problem("smtp_port", "a port number", values["smtp_port"]) from None
    if not 0 < port < 65536:
        raise _problem("smtp_port", "a port number from 1 to 65535", port)
    security = str(values["smtp_security"]).strip().lower()
    if security not in SMTP_SECURITY:
        raise _problem(
            "smtp_security", "one of " + ", ".join(SMTP_SECURITY), values["smtp_security"]
        )
    url = str(values["webhook_url"]).strip()
    if url and not url.lower().startswith(("http://", "https://")):
        raise _problem("webhook_url", "an http:// or https:// URL", url)
    return {
        "smtp_host": str(values["smtp_host"]),
        "smtp_port": port,
        "smtp_sender": str(values["smtp_sender"]),
        "smtp_security": security,
        "smtp_username": str(values["smtp_username"]) or None,
        "smtp_password": str(values["smtp_password"]) or None,
        "webhook_url": url,
        "webhook_secret": str(values["webhook_secret"]) or None,
    }
