"""Journey stages as data, and the statistics of "where it tanks": no I/O.

A journey is an ordered list of :class:`Stage` (from a TOML file, docs/journeys.md): each
stage is entered by the customer's first matching event after entering the stage it
follows (``after``). Where it tanks compares, among the customers at a stage, those with a
factor (an event, an attribute of the entering event, entering late) and those without,
on an outcome (dropping off before the next stage, or a low score): the odds ratio with
its 95% interval (Woolf; 0.5 added to every cell when one is empty), the difference in
proportions, Fisher's exact p-value, and Benjamini-Hochberg q-values across every test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxloop.domain.scores import Z95
from cxloop.errors import ConfigError

STAGE_KEYS = ("name", "events", "where", "after", "same_ref", "due", "optional", "attributes")
COLUMN_ATTRIBUTES = ("channel", "department")


@dataclass(frozen=True)
class Stage:
    name: str
    events: tuple[str, ...]
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    after: str | None = None  # None: the first stage
    same_ref: bool = False
    due: bool = False
    optional: bool = False
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Journey:
    stages: tuple[Stage, ...]
    where: str = "built-in journeys"

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise ConfigError(f"{self.where}: no stage {name!r} (stages: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def index(self, name: str) -> int:
        return self.names.index(self.stage(name).name)

    def next_stage(self, name: str) -> Stage | None:
        """The next stage that is not optional: not reaching it is dropping off."""
        i = self.index(name)
        return next((s for s in self.stages[i + 1 :] if not s.optional), None)


def _strings(at: str, key: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{at}: {key} must be a text or a list of texts, got {value!r}")
    return tuple(v.strip() for v in items)


def _flag(at: str, entry: Mapping[str, Any], key: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{at}: {key} must be true or false, got {value!r}")
    return value


def _stage(i: int, entry: Any, previous: list[Stage], where: str) -> Stage:
    at = f"{where}: stages[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{at}: expected a table with name and events")
    unknown = sorted(set(entry) - set(STAGE_KEYS))
    if unknown:
        raise ConfigError(f"{at}: unknown key {unknown[0]!r} (expected {', '.join(STAGE_KEYS)})")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or not name.replace("_", "").isalnum():
        raise ConfigError(f"{at}: name must be a word (letters, digits, _), got {name!r}")
    at = f"{where}: stage {name!r}"
    if any(s.name == name for s in previous):
        raise ConfigError(f"{at}: defined twice")
    if "events" not in entry:
        raise ConfigError(f"{at}: events missing (the event types that enter the stage)")
    filters = entry.get("where", {})
    if not isinstance(filters, dict):
        raise ConfigError(f"{at}: where must be a table of attribute = value(s)")
    after = entry.get("after")
    if after is None and previous:
        required = [s for s in previous if not s.optional]
        after = (required or previous)[-1].name
    if after is not None and not any(s.name == after for s in previous):
        raise ConfigError(f"{at}: after = {after!r} is not a stage defined before it")
    if not previous and (entry.get("same_ref") or entry.get("due")):
        raise ConfigError(f"{at}: the first stage follows none (same_ref, due need one)")
    return Stage(
        name=name,
        events=_strings(at, "events", entry["events"]),
        where=tuple((k, _strings(f"{at}: where", k, v)) for k, v in sorted(filters.items())),
        after=after,
        same_ref=_flag(at, entry, "same_ref"),
        due=_flag(at, entry, "due"),
        optional=_flag(at, entry, "optional"),
        attributes=_strings(at, "attributes", entry.get("attributes", [])),
    )


def journey_from_dict(data: Mapping[str, Any], where: str) -> Journey:
    """The stages of a journeys file; every error names the file, the stage and the key."""
    entries = data.get("stages")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: expected [[stages]] entries (at least one)")
    stages: list[Stage] = []
    for i, entry in enumerate(entries):
        stages.append(_stage(i, entry, stages, where))
    if stages[0].optional:
        raise ConfigError(f"{where}: stage {stages[0].name!r}: the first stage cannot be optional")
    return Journey(tuple(stages), where)


# ------------------------------------------------------------------ where it tanks


@dataclass(frozen=True)
class Table2x2:
    """Customers at a stage: ``a`` with the factor and the outcome, ``b`` with the factor
    only, ``c`` the outcome only, ``d`` neither."""

    a: int
    b: int
    c: int
    d: int

    @property
    def with_factor(self) -> int:
        return self.a + self.b

    @property
    def without_factor(self) -> int:
        return self.c + self.d


@dataclass(frozen=True)
class Association:
    rate_with: float
    rate_without: float
    difference: float
    diff_low: float
    diff_high: float
    odds_ratio: float
    or_low: float
    or_high: float
    p_value: float
    extra: dict[str, float] = field(default_factory=dict)


def associate(t: Table2x2) -> Association:
    """Odds ratio (Woolf interval; Haldane's 0.5 where a cell is 0), the difference in
    proportions (Wald interval) and Fisher's exact two-sided p-value."""
    from scipy.stats import fisher_exact

    a, b, c, d = (float(x) for x in (t.a, t.b, t.c, t.d))
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    p1 = t.a / t.with_factor
    p0 = t.c / t.without_factor
    se_diff = math.sqrt(p1 * (1 - p1) / t.with_factor + p0 * (1 - p0) / t.without_factor)
    p_value = float(fisher_exact([[t.a, t.b], [t.c, t.d]])[1])
    return Association(
        rate_with=p1,
        rate_without=p0,
        difference=p1 - p0,
        diff_low=p1 - p0 - Z95 * se_diff,
        diff_high=p1 - p0 + Z95 * se_diff,
        odds_ratio=math.exp(log_or),
        or_low=math.exp(log_or - Z95 * se),
        or_high=math.exp(log_or + Z95 * se),
        p_value=p_value,
    )


def testable(t: Table2x2, min_count: int) -> bool:
    """Enough customers with and without the factor, and with and without the outcome."""
    return min(t.with_factor, t.without_factor, t.a + t.c, t.b + t.d) >= min_count


def adjust(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values (statsmodels), in the order given."""
    if not pvalues:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(q) for q in multipletests(list(pvalues), method="fdr_bh")[1]]
