"""The words of customer notices: templates in the configured language, the situation of
each affected order, and the sentences that say what happened (docs/outreach.md).

A templates file holds one table per incident kind (``[billing_deviation]``), optionally per
promise rule (``[promise_breaks.delivery]``) and per situation
(``[promise_breaks.delivery.delivered_late]``), each with a ``subject`` and a ``body``; a
``[facts]`` table with the sentence for each kind of fact; and ``signature``, ``decimal``,
``thousands``. The built-in files are ``cxloop/rules/notices.toml`` (English) and
``notices.<language>.toml`` (``pt``); another language is a file of one's own.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from cxloop.domain.incidents import Incident
from cxloop.errors import ConfigError
from cxloop.workspace.config import read_toml

PLACEHOLDERS = (
    "customer_id",
    "refs",
    "value",
    "window_start",
    "window_end",
    "fact",
    "amount",
    "currency",
    "company",
    "contact",
)
#: Placeholders of the ``[facts]`` sentences.
FACT_PLACEHOLDERS = ("ref", "late", "money", "topic", "rule", "n")
#: What happened to an order, from the cohort's fact and how long it is overdue.
SITUATIONS = ("delivered_late", "running_late", "not_arrived")
#: The facts table's keys (``late``, ``not_fulfilled``, ``at_risk`` are promises of other
#: rules than ``delivery``: callbacks, refunds ...).
FACT_KEYS = (
    *SITUATIONS,
    "at_risk_delivery",
    "late",
    "not_fulfilled",
    "at_risk",
    "overcharged",
    "undercharged",
    "reported",
    "shipped_in_window",
    "days",
    "hours",
)


def builtin_languages() -> list[str]:
    """The languages with built-in templates: ``notices.toml`` is English,
    ``notices.LANG.toml`` the others."""
    langs = []
    for p in resources.files("cxloop.rules").iterdir():
        parts = p.name.split(".")
        if parts[0] == "notices" and parts[-1] == "toml" and len(parts) in (2, 3):
            langs.append(parts[1] if len(parts) == 3 else "en")
    return sorted(langs)


def _builtin(language: str) -> dict[str, Any]:
    name = "notices.toml" if language == "en" else f"notices.{language}.toml"
    try:
        return read_toml(None, name, "notice templates")[0]
    except ConfigError:
        raise ConfigError(
            f"no built-in notice templates for language {language!r} (built-in: "
            f"{', '.join(builtin_languages())}); write a templates file (docs/outreach.md) "
            "and set notice_templates (CXLOOP_NOTICE_TEMPLATES) or pass --templates"
        ) from None


def load_templates(path: Path | None = None, language: str = "en") -> dict[str, Any]:
    """Notice templates from a TOML file, or the built-in ones of ``language``. A file's
    missing ``[facts]`` sentences and ``signature`` come from the built-in ones of its
    ``language`` (its own top-level key, else ``language``; English when none is built in)."""
    if path is None:
        return _builtin(language)
    data, where = read_toml(path, "", "notice templates")
    lang = str(data.get("language", language))
    base = _builtin(lang if lang in builtin_languages() else "en")
    facts = data.get("facts", {})
    if not isinstance(facts, dict):
        raise ConfigError(f"{where}: [facts] must be a table of sentences")
    unknown = sorted(set(facts) - set(FACT_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: [facts] unknown key {unknown[0]!r} (expected {', '.join(FACT_KEYS)})"
        )
    return {**base, **data, "facts": {**base.get("facts", {}), **facts}}


def template_for(
    templates: dict[str, Any], incident: Incident, situation: str | None
) -> tuple[str, dict[str, str]]:
    """The most specific table: ``[kind.rule.situation]``, ``[kind.rule]``, else ``[kind]``."""
    kind = incident.kind
    table = templates.get(kind)
    rule = str(incident.details.get("spec", {}).get("rule", ""))
    tried = []
    if isinstance(table, dict):
        by_rule = table.get(rule) if rule else None
        if isinstance(by_rule, dict) and situation:
            tried.append((f"[{kind}.{rule}.{situation}]", by_rule.get(situation)))
        tried += [(f"[{kind}.{rule}]", by_rule), (f"[{kind}]", table)]
    for where, found in tried:
        if isinstance(found, dict) and "subject" in found and "body" in found:
            return where, found
    raise ConfigError(
        f"notice templates: no [{kind}] table with subject and body "
        f"(needed by incident {incident.incident_id})"
    )


def render(text: str, values: dict[str, str], where: str, known: tuple[str, ...]) -> str:
    try:
        return Template(text).substitute(values)
    except KeyError as exc:
        raise ConfigError(
            f"{where}: unknown placeholder ${exc.args[0]} (known: {', '.join(known)})"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def number(value: float, digits: int, templates: dict[str, Any]) -> str:
    """``value`` with the templates' decimal and thousands separators (12,345.60 / 12.345,60)."""
    text = f"{value:,.{digits}f}"
    decimal, thousands = str(templates.get("decimal", ".")), str(templates.get("thousands", ","))
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def situation_of(fact: str, hours: float | None, lost_after_days: float) -> str | None:
    """What happened to a promised delivery: kept late (``delivered_late``), not yet kept
    and at risk or overdue by at most ``lost_after_days`` (``running_late``), or overdue by
    more (``not_arrived``). None for other facts."""
    if fact == "late":
        return "delivered_late"
    if fact == "at_risk":
        return "running_late"
    if fact == "not_fulfilled":
        if hours is not None and hours <= 24 * lost_after_days:
            return "running_late"
        return "not_arrived"
    return None


def customer_situation(situations: list[str | None]) -> str | None:
    """One notice per customer: the gravest of their orders' situations."""
    for s in reversed(SITUATIONS):
        if s in situations:
            return s
    return None


class FactWriter:
    """Sentences for the cohort's facts, in the templates' language."""

    def __init__(self, templates: dict[str, Any], currency: str, lost_after_days: float):
        self.t = templates
        self.facts: dict[str, str] = templates.get("facts", {})
        self.currency = currency
        self.lost_after = lost_after_days

    def money(self, value: float) -> str:
        return f"{number(value, 2, self.t)} {self.currency}"

    def _say(self, key: str, **values: str) -> str:
        text = self.facts.get(key)
        if not isinstance(text, str):
            raise ConfigError(f"notice templates: [facts] has no {key!r} sentence")
        return render(text, values, f"[facts] {key}", FACT_PLACEHOLDERS)

    def duration(self, hours: float) -> str:
        if hours >= 24:
            return self._say("days", n=number(hours / 24, 1, self.t))
        return self._say("hours", n=number(hours, 0, self.t))

    def sentence(self, fact: str, ref: str, value: float | None, rule: str) -> str:
        if fact in ("overcharged", "undercharged") and value is not None:
            return self._say(fact, ref=ref, money=self.money(abs(value)))
        if fact.startswith("reported_"):
            topic = fact.removeprefix("reported_").replace("_", " ")
            return self._say("reported", ref=ref, topic=topic)
        if fact == "shipped_in_window":
            return self._say(fact, ref=ref)
        late = self.duration(value) if value is not None else ""
        if rule == "delivery":
            situation = situation_of(fact, value, self.lost_after)
            if fact == "at_risk":
                return self._say("at_risk_delivery", ref=ref, late=late)
            if situation:
                return self._say(situation, ref=ref, late=late)
        key = fact if fact in ("late", "not_fulfilled", "at_risk") else "not_fulfilled"
        return self._say(key, ref=ref, late=late, rule=rule.replace("_", " "))

    def text(self, rows: pd.DataFrame, rule: str) -> tuple[str, float, str | None]:
        """What happened to one customer, in sentences; the money involved; the situation."""
        parts, money, situations = [], 0.0, []
        for r in rows.itertuples():
            value = None if pd.isna(r.fact_value) else float(r.fact_value)
            parts.append(self.sentence(str(r.fact), str(r.ref), value, rule))
            if r.fact == "overcharged" and value is not None:
                money += value
            situations.append(situation_of(str(r.fact), value, self.lost_after))
        return " ".join(parts), money, customer_situation(situations)
