"""``cxloop rules show``: the promise rules in effect (a ``--rules`` file, ``CXLOOP_RULES``,
else the built-in ones), as their TOML text, a table of their risks or JSON, with the event
types each rule and each risk needs (docs/promises.md)."""

from __future__ import annotations

import sys
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.cli.render import emit_json, make_console, records, table
from cxloop.errors import ConfigError
from cxloop.library.edges import load_rules

out = make_console()


class ShowFormat(StrEnum):
    TOML = "toml"
    TABLE = "table"
    JSON = "json"


def _text(file: Path | None) -> str:
    if file is None:
        return resources.files("cxloop.rules").joinpath("default.toml").read_text("utf-8")
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the rules file: {exc.strerror}") from None


def _needs(rule: Any, risk: Any | None) -> str:
    """The event types a rule (or one of its risks) reads."""
    if risk is None:
        return ", ".join([rule.opens_on, rule.fulfilled_by, *rule.voided_by])
    if risk.milestone:
        return f"{risk.milestone} (at least one in the log)"
    if risk.kind.value == "slower_than_usual":
        return f"{rule.fulfilled_by} (earlier ones of the customer)"
    return str(rule.fulfilled_by)


def risk_rows(file: Path | None) -> tuple[str, pd.DataFrame]:
    """One row per rule and risk (a rule without risks: one row with no risk)."""
    rules = load_rules(file)
    rows: list[dict[str, Any]] = []
    for r in rules.rules:
        base = {"rule": r.name, "opens_on": r.opens_on, "needs": _needs(r, None)}
        for k in r.risks or (None,):
            rows.append(
                {
                    **base,
                    "risk": k.reason if k else "",
                    "risk_kind": k.kind.value if k else "",
                    "risk_needs": _needs(r, k) if k else "",
                }
            )
    return rules.version, pd.DataFrame(rows)


def rules_show(file: Path | None, fmt: ShowFormat) -> None:
    where = "built-in rules" if file is None else str(file)
    if fmt is ShowFormat.TOML:
        text = _text(file)
        load_rules(file)  # the rules in effect are valid ones: say so before printing them
        sys.stdout.write(f"# {where}\n{text.rstrip()}\n")  # as written: no wrapping, no markup
        return
    version, df = risk_rows(file)
    if fmt is ShowFormat.JSON:
        emit_json(out, {"source": where, "version": version, "risks": records(df)})
        return
    table(out, f"Promise rules in effect ({where}, version {version})", df)
