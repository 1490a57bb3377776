"""The settings of "which remedies won customers back": a TOML file (setting
``remedies_rules``), else the built-in ``rules/remedies.toml``. Every error names the file
and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxloop.domain.remedies import Remedy
from cxloop.errors import ConfigError
from cxloop.workspace.config import read_toml


@dataclass(frozen=True)
class RemedyEvent:
    event_type: str
    remedy: str
    money: bool


@dataclass(frozen=True)
class RemedyRules:
    horizons: tuple[int, ...] = (90, 180)
    split_days: float = 1.0
    remedy_window_days: int = 30
    min_treated: int = 20
    min_control: int = 20
    folds: int = 5
    level: float = 0.95
    not_worse: float = 0.02
    seed: int = 0
    remedy_events: tuple[RemedyEvent, ...] = ()
    source: str = "built-in remedies"

    def remedy_of(self, event_type: str) -> RemedyEvent | None:
        return next((r for r in self.remedy_events if r.event_type == event_type), None)


_NUMBERS: dict[str, tuple[type, float, float]] = {
    "split_days": (float, 0, 365),
    "remedy_window_days": (int, 0, 3650),
    "min_treated": (int, 2, 10**9),
    "min_control": (int, 2, 10**9),
    "folds": (int, 2, 20),
    "level": (float, 0.5, 0.999),
    "not_worse": (float, 0, 1),
    "seed": (int, 0, 2**31),
}


def _number(data: dict[str, Any], name: str, where: str) -> float | int:
    kind, low, high = _NUMBERS[name]
    value = data[name]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or (kind is int and not isinstance(value, int)) or not low <= value <= high:
        want = "a whole number" if kind is int else "a number"
        raise ConfigError(
            f"{where}: {name}: expected {want} from {low:g} to {high:g}, got {value!r}"
        )
    return kind(value)  # type: ignore[no-any-return]


def _events(data: dict[str, Any], where: str) -> tuple[RemedyEvent, ...]:
    found = []
    for i, row in enumerate(data.get("remedy_events", [])):
        at = f"{where}: remedy_events[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("event_type"), str):
            raise ConfigError(f"{at}.event_type: expected an event type name")
        if row.get("remedy") not in {r.value for r in Remedy}:
            known = ", ".join(r.value for r in Remedy)
            raise ConfigError(f"{at}.remedy: expected one of {known}, got {row.get('remedy')!r}")
        found.append(RemedyEvent(row["event_type"], row["remedy"], bool(row.get("money", False))))
    if not found:
        raise ConfigError(f"{where}: remedy_events: name at least one event type")
    return tuple(found)


def load_remedy_rules(path: Path | None) -> RemedyRules:
    data, where = read_toml(path, "remedies.toml", "remedies")
    base = RemedyRules()
    known = set(_NUMBERS) | {"horizons", "remedy_events"}
    unknown = sorted(set(data) - known)
    if unknown:
        names = ", ".join(sorted(known))
        raise ConfigError(f"{where}: unknown field {unknown[0]} (known: {names})")
    values: dict[str, Any] = {k: _number(data, k, where) for k in _NUMBERS if k in data}
    horizons = data.get("horizons", list(base.horizons))
    if (
        not isinstance(horizons, list)
        or not horizons
        or not all(isinstance(h, int) and 0 < h <= 3650 for h in horizons)
    ):
        raise ConfigError(f"{where}: horizons: expected a list of days, got {horizons!r}")
    return RemedyRules(
        **values,
        horizons=tuple(sorted(set(horizons))),
        remedy_events=_events(data, where),
        source=where,
    )
