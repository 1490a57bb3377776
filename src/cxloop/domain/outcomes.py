"""What an outcome is, as data: purchases and their value, the promise rule that splits
customers, the outcome windows and the features known before a promise (docs/outcomes.md).

The defaults fit a commerce log and live in ``cxloop/rules/outcomes.toml``; a user's file
replaces them (setting ``outcomes``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cxloop.domain.promises import parse_duration
from cxloop.errors import ConfigError

PERIODS = ("month", "week")
#: the first promise outcomes a customer can have, in the order reports list them
FIRST_OUTCOMES = ("kept", "exceeded", "broken", "open", "at_risk", "cancelled", "none")
#: the contrasts of the value of a kept promise: (name, treated states, reference states)
CONTRASTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "broken": (("broken",), ("kept", "exceeded")),
    "exceeded": (("exceeded",), ("kept",)),
}


@dataclass(frozen=True)
class OutcomesConfig:
    purchase_events: tuple[str, ...] = ("order_placed",)
    value: str = "amount"  # the event's amount column, or "attrs.KEY"
    promise_rule: str = "delivery"
    horizons: tuple[timedelta, ...] = (timedelta(days=90), timedelta(days=180))
    review_event: str = "review"
    review_score: str = "score"
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    min_category: int = 20
    folds: int = 5
    split_gap: timedelta = timedelta(days=1)

    @property
    def value_attr(self) -> str | None:
        """The attribute holding a purchase's value, or None for the amount column."""
        return self.value.removeprefix("attrs.") if self.value.startswith("attrs.") else None


_KEYS = {
    "purchase": {"events", "value"},
    "promise": {"rule"},
    "promise_value": {
        "horizons",
        "review_event",
        "review_score",
        "categorical",
        "numeric",
        "min_category",
        "folds",
    },
}


def _strings(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _int(where: str, value: object, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ConfigError(f"{where}: expected a whole number of at least {least}, got {value!r}")
    return value


def outcomes_from_dict(data: Mapping[str, Any], split_gap: timedelta) -> OutcomesConfig:
    """The outcomes file's content, checked; every error names the table and key."""
    for table, body in data.items():
        if table not in _KEYS or not isinstance(body, dict):
            raise ConfigError(f"unknown table [{table}]; expected " + ", ".join(_KEYS))
        extra = sorted(set(body) - _KEYS[table])
        if extra:
            raise ConfigError(f"[{table}]: unknown key {extra[0]!r}")
    purchase = data.get("purchase", {})
    promise = data.get("promise", {})
    pv = data.get("promise_value", {})
    value = purchase.get("value", "amount")
    if not isinstance(value, str) or not (value == "amount" or value.startswith("attrs.")):
        raise ConfigError(f'[purchase] value: expected "amount" or "attrs.KEY", got {value!r}')
    try:
        horizons = tuple(parse_duration(h) for h in pv.get("horizons", ["90d", "180d"]))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[promise_value] horizons: {exc}") from None
    if not horizons:
        raise ConfigError("[promise_value] horizons: expected at least one window")
    return OutcomesConfig(
        purchase_events=_strings("[purchase] events", purchase.get("events", ["order_placed"])),
        value=value,
        promise_rule=str(promise.get("rule", "delivery")),
        horizons=horizons,
        review_event=str(pv.get("review_event", "review")),
        review_score=str(pv.get("review_score", "score")),
        categorical=_strings("[promise_value] categorical", pv.get("categorical", [])) or (),
        numeric=_strings("[promise_value] numeric", pv.get("numeric", [])) or (),
        min_category=_int("[promise_value] min_category", pv.get("min_category", 20), 1),
        folds=_int("[promise_value] folds", pv.get("folds", 5), 2),
        split_gap=split_gap,
    )


def horizon_days(h: timedelta) -> str:
    """A window's name in reports: ``90d``."""
    days = h.total_seconds() / 86400
    return f"{days:g}d"
