"""Settings, declared once as (name, default, help).

The same declarations feed the CLI help, ``docs/settings.md`` (a test fails when
one is undocumented) and :class:`Settings`. Nothing reads the environment at
import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cxloop.domain.events import DEFAULT_CHANNELS, DEFAULT_DEPARTMENTS
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
        "Who acts on cases from the CLI without a key (the keyless operator, judged in the "
        "policy's lowest role) when --actor is not given.",
    ),
    SettingSpec(
        "role",
        "CXLOOP_ROLE",
        "",
        "A lower policy role to act in than the key's (or the operator's) when --role is "
        "not given; it never raises a role. Empty: the key's own.",
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
        "session_hours",
        "CXLOOP_SESSION_HOURS",
        "12",
        "Hours a dashboard sign-in lasts before the browser must sign in again (logout ends "
        "it at once; revoking its API key too).",
    ),
    SettingSpec(
        "max_body_mb",
        "CXLOOP_MAX_BODY_MB",
        "32",
        "Largest request body the server reads, in MiB, for every role (an event batch of "
        "10,000 events is a few MiB); a larger one is refused with 413.",
    ),
    SettingSpec(
        "departments",
        "CXLOOP_DEPARTMENTS",
        ",".join(DEFAULT_DEPARTMENTS),
        "The departments events may name (comma-separated; compared trimmed, in lower case).",
    ),
    SettingSpec(
        "unknown_departments",
        "CXLOOP_UNKNOWN_DEPARTMENTS",
        "accept",
        "A department not in `departments`: accept (loaded as given, normalised: trimmed, "
        "lower case, inner spaces collapsed) or refuse (the row is quarantined, naming the list).",
    ),
    SettingSpec(
        "channels",
        "CXLOOP_CHANNELS",
        ",".join(DEFAULT_CHANNELS),
        "The channels events may name (comma-separated; compared trimmed, in lower case).",
    ),
    SettingSpec(
        "unknown_channels",
        "CXLOOP_UNKNOWN_CHANNELS",
        "accept",
        "A channel not in `channels`: accept (loaded as given, normalised) or refuse "
        "(quarantined, naming the list).",
    ),
    SettingSpec(
        "metrics",
        "CXLOOP_METRICS",
        "",
        "Score metrics file (TOML, docs/voice.md): each metric's scale, top and bottom "
        "boxes; its entries replace or add to the built-in nps, enps, csat, review, ces "
        "and pulse. Empty means the built-in metrics.",
    ),
    SettingSpec(
        "unknown_metrics",
        "CXLOOP_UNKNOWN_METRICS",
        "accept",
        "A scored answer whose metric is not declared: accept (loaded, left out of the "
        "scores) or refuse (quarantined, naming the declared metrics).",
    ),
    SettingSpec(
        "currency",
        "CXLOOP_CURRENCY",
        "USD",
        "The data's currency (3-letter code): shown with every amount reported; a policy "
        "in another currency is refused.",
    ),
    SettingSpec(
        "language",
        "CXLOOP_LANGUAGE",
        "en",
        "Language of the data and of customer notices (en, pt, ...): the language of texts "
        "that do not say theirs (attrs.lang) for voice compare's keywords and topic stop "
        "words, and the built-in notice templates (en, pt; another language needs "
        "notice_templates).",
    ),
    SettingSpec(
        "brand",
        "CXLOOP_BRAND",
        "",
        "Who signs customer notices (your company or brand); empty means the templates' "
        'own signature ("Customer care").',
    ),
    SettingSpec(
        "sender",
        "CXLOOP_SENDER",
        "",
        "Where customers reply to, named in notices; empty means smtp_sender.",
    ),
    SettingSpec(
        "notice_templates",
        "CXLOOP_NOTICE_TEMPLATES",
        "",
        "Notice templates file (TOML, docs/outreach.md); empty means the built-in ones "
        "of language. `--templates` overrides it.",
    ),
    SettingSpec(
        "notice_lost_after",
        "CXLOOP_NOTICE_LOST_AFTER",
        "14",
        "Days past its due time after which an undelivered order is told as never arrived "
        "rather than running late.",
    ),
    SettingSpec(
        "clock",
        "CXLOOP_CLOCK",
        "data",
        "The store's now, which every action is stamped with and every report is as of: "
        "`data` (the latest event loaded from a source; cxloop's own events not counted), "
        "`wall` (the computer's clock, for a live store) or an ISO 8601 time "
        "(`2018-10-22T00:00:00Z`). The CLI's global `--as-of` sets it for one command "
        "(docs/settings.md#the-stores-clock).",
    ),
    SettingSpec(
        "api_key",
        "CXLOOP_API_KEY",
        "",
        "The CLI user's API key (from `cxloop keys create`): case actions are taken under "
        "its name and role, as on the API (docs/recovery.md#who-acts). Empty: the keyless "
        "operator.",
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
    SettingSpec(
        "effort",
        "CXLOOP_EFFORT",
        "",
        "Effort rules file (TOML: how contacts become issues, what counts as a reply, "
        "transfer or hold, repeat and reopen windows; docs/effort.md); empty means the "
        "built-in rules.",
    ),
    SettingSpec(
        "outcomes",
        "CXLOOP_OUTCOMES",
        "",
        "Outcomes file (TOML, docs/outcomes.md): which events are purchases and their value, "
        "the promise rule whose first outcome splits customers, the features known before a "
        "promise; empty means the built-in commerce defaults.",
    ),
    SettingSpec(
        "split_order_gap",
        "CXLOOP_SPLIT_ORDER_GAP",
        "1d",
        "Purchases by one customer within this gap of the previous one are one split order, "
        "not a repeat purchase (a duration: 1d, 36h; 0m counts every purchase).",
    ),
    # -- journeys (docs/journeys.md)
    SettingSpec(
        "journeys",
        "CXLOOP_JOURNEYS",
        "",
        "Journey stages file (TOML, docs/journeys.md); empty means the built-in commerce "
        "stages (purchase, delivery, support, review, repurchase).",
    ),
    SettingSpec(
        "journey_min_count",
        "CXLOOP_JOURNEY_MIN_COUNT",
        "20",
        "Where it tanks tests a factor at a stage only when at least this many customers "
        "there have it, lack it, have the outcome and lack it.",
    ),
    SettingSpec(
        "remedies_rules",
        "CXLOOP_REMEDIES_RULES",
        "",
        "The remedies report's settings (TOML: horizons, split orders, remedy window, minimum "
        "counts, which event types are remedies); empty means the built-in "
        "rules/remedies.toml (docs/outcomes-remedies.md).",
    ),
    # outcomes: health and churn risk from the log (docs/outcomes-churn.md)
    SettingSpec(
        "health_horizon",
        "CXLOOP_HEALTH_HORIZON",
        "90d",
        "Churn for `cxloop outcomes health`: no purchase within this long after a cut-off "
        "(a duration: 90d, 8w). The time-split validation needs a log of at least 2x it.",
    ),
    SettingSpec(
        "health_spec",
        "CXLOOP_HEALTH_SPEC",
        "",
        "Which event types mean purchase, contact, effort, cancel, refund and score for the "
        "health features (TOML); empty means the built-in rules/health.toml (a commerce log).",
    ),
    SettingSpec(
        "health_call_risk",
        "CXLOOP_HEALTH_CALL_RISK",
        "0.5",
        "The churn risk (0-1) from which the brief lists a customer as worth a call today, "
        "riskiest revenue first.",
    ),
    SettingSpec(
        "health_calls",
        "CXLOOP_HEALTH_CALLS",
        "5",
        "How many at-risk customers the brief lists as worth a call today (0: none).",
    ),
    SettingSpec(
        "ingest_engine",
        "CXLOOP_INGEST_ENGINE",
        "embedded",
        "Where `cxloop ingest` maps and checks files: embedded (DuckDB in this process) or "
        "spark (Spark tasks over spark_master; generic mapping, Parquet log only).",
    ),
    # -- no cold starts (docs/refresh.md)
    SettingSpec(
        "refresh",
        "CXLOOP_REFRESH",
        "on",
        "on: after an ingest, a revert or a forget, compute what the brief and the "
        "dashboard's first page need before anyone asks, and let `cxloop serve` warm them in "
        "the background when the log changes; off: compute them when first asked.",
    ),
    SettingSpec(
        "refresh_poll",
        "CXLOOP_REFRESH_POLL",
        "10",
        "Seconds between the server's checks for a new log version to warm (0: no "
        "background warming; writes through the server still wake it when refresh is on).",
    ),
    SettingSpec(
        "ingest_memory",
        "CXLOOP_INGEST_MEMORY",
        "1GiB",
        "Memory an ingest run's DuckDB may hold (`512MB`, `2GiB`); beyond it the rows spill to "
        "the store's tmp/, so a file of any size loads in about this much.",
    ),
    SettingSpec(
        "ingest_threads",
        "CXLOOP_INGEST_THREADS",
        "0",
        "Threads an ingest run's DuckDB uses (0: one per core).",
    ),
    SettingSpec(
        "spark_shuffle_partitions",
        "CXLOOP_SPARK_SHUFFLE_PARTITIONS",
        "0",
        "Partitions a Spark shuffle (a join, a group by) starts with for engine=spark (0: "
        "two per core Spark has, e.g. 4 for local[2]; adaptive execution merges small ones).",
    ),
    SettingSpec(
        "voice_threads",
        "CXLOOP_VOICE_THREADS",
        "0",
        "Threads the text models (embeddings, topics, learned sentiment) use (0: the cores "
        "idle when a model first runs: the cores minus the other runnable tasks, at least one).",
    ),
    SettingSpec(
        "embedding_precision",
        "CXLOOP_EMBEDDING_PRECISION",
        "auto",
        "Arithmetic of the sentence-embedding model: `float32`, `bfloat16` (about twice as "
        "fast on a CPU with bfloat16 units, vectors within a cosine of 0.9999 of float32's) "
        "or `auto` (bfloat16 where the CPU has AMX or AVX-512 BF16, else float32).",
    ),
    SettingSpec(
        "inline_read_groups",
        "CXLOOP_INLINE_READ_GROUPS",
        "4",
        "Row groups of the customer-sorted copies a server's timeline read may span to be "
        "answered on its event loop rather than handed to a worker thread (0: always a thread).",
    ),
    SettingSpec(
        "refresh_nice",
        "CXLOOP_REFRESH_NICE",
        "10",
        "Steps below normal CPU priority (0-19) of the refresh an ingest starts in the "
        "background, so a server's requests come first while it runs (0: normal priority).",
    ),
    SettingSpec(
        "personal_words",
        "CXLOOP_PERSONAL_WORDS",
        "",
        "More words that make an attribute name personal for masking (comma-separated; "
        "compared as the words of a name, in lower case without separators), beside the "
        "built-in ones (docs/security.md).",
    ),
)
VOCABULARY_MODES = ("accept", "refuse")
UNKNOWN_VALUES = ("accept", "refuse")

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
    role: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "care@localhost"
    smtp_security: str = "none"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    webhook_url: str = ""
    webhook_secret: str | None = field(default=None, repr=False)
    session_hours: float = 12.0
    max_body_mb: float = 32.0
    departments: tuple[str, ...] = DEFAULT_DEPARTMENTS
    unknown_departments: str = "accept"
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    unknown_channels: str = "accept"
    metrics: Path | None = None
    unknown_metrics: str = "accept"
    currency: str = "USD"
    language: str = "en"
    brand: str = ""
    sender: str = ""
    notice_templates: Path | None = None
    notice_lost_after: float = 14.0
    clock: str = "data"
    api_key: str | None = field(default=None, repr=False)
    brief_warn_within: timedelta = timedelta(days=28)
    brief_recover_within: timedelta = timedelta(days=90)
    effort: Path | None = None
    outcomes: Path | None = None
    split_order_gap: timedelta = timedelta(days=1)
    journeys: Path | None = None
    journey_min_count: int = 20
    remedies_rules: Path | None = None
    health_horizon: timedelta = timedelta(days=90)
    health_spec: Path | None = None
    health_call_risk: float = 0.5
    health_calls: int = 5
    ingest_engine: str = "embedded"
    refresh: bool = True
    refresh_poll: float = 10.0
    ingest_memory: str = "1GiB"
    ingest_threads: int = 0
    spark_shuffle_partitions: int = 0
    voice_threads: int = 0
    embedding_precision: str = "auto"
    inline_read_groups: int = 4
    refresh_nice: int = 10
    personal_words: tuple[str, ...] = ()

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
            role=str(values["role"] or "").strip(),
            clock=_clock(values["clock"]),
            api_key=str(values["api_key"] or "").strip() or None,
            remedies_rules=Path(str(values["remedies_rules"]))
            if values["remedies_rules"]
            else None,
            **_channel_settings(values),
            **_brief_settings(values),
            **_web_settings(values),
            **_vocabulary_settings(values),
            **_organization_settings(values),
            effort=Path(str(values["effort"])) if str(values["effort"] or "").strip() else None,
            **_outcome_settings(values),
            **_journey_settings(values),
            **_health_settings(values),
            ingest_engine=_ingest_engine(values["ingest_engine"]),
            **_refresh_settings(values),
            **_ingest_settings(values),
            spark_shuffle_partitions=_whole(values, "spark_shuffle_partitions"),
            voice_threads=_whole(values, "voice_threads"),
            embedding_precision=_precision(values),
            inline_read_groups=_whole(values, "inline_read_groups"),
            refresh_nice=_nice(values),
            personal_words=_word_list(values["personal_words"]),
        )


def _problem(name: str, expected: str, value: object) -> ConfigError:
    env = next(s.env for s in SETTINGS if s.name == name)
    return ConfigError(f"setting {name} ({env}): expected {expected}, got {value!r}")


def _web_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The web server's limits, checked."""
    found: dict[str, Any] = {}
    for name in ("session_hours", "max_body_mb"):
        try:
            number = float(str(values[name]))
        except ValueError:
            raise _problem(name, "a number", values[name]) from None
        if not 0 < number < 1e6:
            raise _problem(name, "a number above 0", values[name])
        found[name] = number
    return found


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


def _vocabulary_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """Departments and channels: the lists and what to do with other values."""
    out: dict[str, Any] = {}
    for name in ("departments", "channels"):
        items = tuple(
            dict.fromkeys(" ".join(v.split()).lower() for v in str(values[name]).split(","))
        )
        out[name] = tuple(v for v in items if v)
        mode = str(values[f"unknown_{name}"]).strip().lower()
        if mode not in VOCABULARY_MODES:
            raise _problem(f"unknown_{name}", "accept or refuse", values[f"unknown_{name}"])
        if mode == "refuse" and not out[name]:
            raise _problem(name, f"at least one name when unknown_{name} = refuse", "")
        out[f"unknown_{name}"] = mode
    return out


def _organization_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The organization's own vocabulary: metrics, currency, language, brand, sender."""
    currency = str(values["currency"] or "").strip().upper()
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise _problem("currency", 'a 3-letter currency code such as "USD"', values["currency"])
    language = str(values["language"] or "").strip().lower()
    if not language or not all(part.isalnum() and part.isascii() for part in language.split("-")):
        raise _problem("language", 'a language code such as "en" or "pt"', values["language"])
    raw_lost = values["notice_lost_after"]
    try:
        lost = float(str(raw_lost))
    except ValueError:
        raise _problem("notice_lost_after", "a number of days", raw_lost) from None
    if not lost >= 0:
        raise _problem("notice_lost_after", "0 days or more", lost)
    metrics = str(values["metrics"] or "").strip()
    unknown = str(values["unknown_metrics"] or "").strip().lower()
    if unknown not in UNKNOWN_VALUES:
        raise _problem("unknown_metrics", " or ".join(UNKNOWN_VALUES), values["unknown_metrics"])
    templates = str(values["notice_templates"] or "").strip()
    return {
        "metrics": Path(metrics) if metrics else None,
        "unknown_metrics": unknown,
        "currency": currency,
        "language": language,
        "brand": str(values["brand"] or "").strip(),
        "sender": str(values["sender"] or "").strip(),
        "notice_templates": Path(templates) if templates else None,
        "notice_lost_after": lost,
    }


def _clock(value: object) -> str:
    from cxloop.domain.clock import parse_clock

    if isinstance(value, datetime):
        value = value.isoformat()
    try:
        return parse_clock(str(value or "data"))
    except ValueError:
        raise _problem(
            "clock", "data, wall, or an ISO 8601 time such as 2018-10-22T00:00:00Z", value
        ) from None


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


def _outcome_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The outcomes file and the split-order gap."""
    path = str(values["outcomes"] or "").strip()
    gap = values["split_order_gap"]
    try:
        parsed = gap if isinstance(gap, timedelta) else parse_duration(str(gap))
    except ValueError:
        raise _problem("split_order_gap", "a duration like 1d, 36h or 0m", gap) from None
    if parsed < timedelta(0):
        raise _problem("split_order_gap", "0m or more", gap)
    return {"outcomes": Path(path) if path else None, "split_order_gap": parsed}


def _journey_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The journeys file and where it tanks' minimum count."""
    path = str(values["journeys"] or "").strip()
    try:
        count = int(str(values["journey_min_count"]))
    except ValueError:
        raise _problem("journey_min_count", "a whole number", values["journey_min_count"]) from None
    if count < 1:
        raise _problem("journey_min_count", "1 or more", count)
    return {"journeys": Path(path) if path else None, "journey_min_count": count}


def _health_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """Health and churn risk: the horizon, the spec file, who is worth a call."""
    try:
        horizon = parse_duration(str(values["health_horizon"]))
    except ValueError:
        raise _problem(
            "health_horizon", "a duration like 90d or 8w", values["health_horizon"]
        ) from None
    try:
        risk = float(str(values["health_call_risk"]))
    except ValueError:
        risk = -1.0
    if not 0 <= risk <= 1:
        raise _problem("health_call_risk", "a number from 0 to 1", values["health_call_risk"])
    calls = str(values["health_calls"]).strip()
    if not calls.isdigit():
        raise _problem("health_calls", "a whole number, 0 or more", values["health_calls"])
    spec = str(values["health_spec"] or "").strip()
    return {
        "health_horizon": horizon,
        "health_spec": Path(spec) if spec else None,
        "health_call_risk": risk,
        "health_calls": int(calls),
    }


INGEST_ENGINES = ("embedded", "spark")


def _ingest_engine(value: object) -> str:
    engine = str(value or "embedded").strip().lower()
    if engine not in INGEST_ENGINES:
        raise _problem("ingest_engine", "one of " + ", ".join(INGEST_ENGINES), value)
    return engine


def _refresh_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """The refresh after a write: on or off, and the server's polling interval."""
    mode = str(values["refresh"]).strip().lower()
    if mode not in ("on", "off"):
        raise _problem("refresh", "on or off", values["refresh"])
    try:
        poll = float(str(values["refresh_poll"]))
    except ValueError:
        poll = -1.0
    if poll < 0:
        raise _problem("refresh_poll", "seconds, 0 or more", values["refresh_poll"])
    return {"refresh": mode == "on", "refresh_poll": poll}


_MEMORY_RE = re.compile(r"\s*(\d+(\.\d+)?)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*", re.IGNORECASE)


def _ingest_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """How much memory and how many threads an ingest run's DuckDB may use."""
    memory = str(values["ingest_memory"])
    match = _MEMORY_RE.fullmatch(memory)
    if match is None or float(match.group(1)) <= 0:
        raise _problem("ingest_memory", "an amount like 512MB or 2GB", memory)
    threads = str(values["ingest_threads"]).strip()
    if not threads.isdigit():
        raise _problem("ingest_threads", "a whole number, 0 or more", values["ingest_threads"])
    return {
        "ingest_memory": f"{match.group(1)}{match.group(3)}",
        "ingest_threads": int(threads),
    }


def _nice(values: Mapping[str, object]) -> int:
    """``refresh_nice``: a whole number from 0 to 19 (what ``nice`` accepts)."""
    found = _whole(values, "refresh_nice")
    if found > 19:
        raise _problem("refresh_nice", "a whole number from 0 to 19", values["refresh_nice"])
    return found


#: The sentence-embedding model's arithmetic (cxloop.text.embed.precision resolves auto).
PRECISIONS = ("auto", "float32", "bfloat16")


def _precision(values: Mapping[str, object]) -> str:
    """``embedding_precision``: auto, float32 or bfloat16."""
    found = str(values["embedding_precision"]).strip().lower()
    if found not in PRECISIONS:
        raise _problem("embedding_precision", "one of " + ", ".join(PRECISIONS), found)
    return found


def _whole(values: Mapping[str, object], name: str) -> int:
    """A whole-number setting, 0 or more."""
    text = str(values[name]).strip()
    if not text.isdigit():
        raise _problem(name, "a whole number, 0 or more", values[name])
    return int(text)


def _word_list(value: object) -> tuple[str, ...]:
    """``personal_words``: comma-separated, each in lower case without separators
    (``Endereço Comercial`` -> ``enderecocomercial``, as masking compares the words of a name)."""
    plain = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode()
    found = (re.sub(r"[^0-9a-z]", "", w.lower()) for w in plain.split(","))
    return tuple(dict.fromkeys(w for w in found if w))
