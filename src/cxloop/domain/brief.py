"""The daily brief's items and the rules that decide what can still be done about them.

An :class:`Item` is one candidate for "the one thing to do today". A systemic failure's
item depends on *when* the brief is read: while its window is recent and some of its
customers have not been in touch, the thing to do is to **warn** them before they call;
once it is past the warning horizon (or everyone already complained or reviewed), the
thing to do is to **recover** (apologise, make good, check the cause is fixed); past the
recovery horizon it is history and leaves the ranking (:func:`stage`). An item someone
acted on moves below the others until its figures change (:func:`rank`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    WARN = "warn"  # tell the customers not yet in touch before they call
    RECOVER = "recover"  # too late to warn: apologise, make good, fix the cause


@dataclass(frozen=True)
class Horizons:
    """How long after a failure's window ended it can still be warned about, and recovered
    from (settings ``brief_warn_within``, ``brief_recover_within``)."""

    warn_within: timedelta = timedelta(days=28)
    recover_within: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class Audience:
    """A failure's customers as of the brief, each counted once, in this order: ``told``
    (a notice was sent), ``complained`` (contacted us or left a low score about it; of
    them ``low_review`` with a low score), ``reviewed`` (left a review or survey score that
    was not low), ``silent`` (none of these: not yet told and not yet heard from)."""

    told: int = 0
    complained: int = 0
    low_review: int = 0
    reviewed: int = 0
    silent: int = 0

    @property
    def untold(self) -> int:
        return self.complained + self.reviewed + self.silent

    def as_dict(self) -> dict[str, int]:
        return {
            "told": self.told,
            "complained": self.complained,
            "low_review": self.low_review,
            "reviewed": self.reviewed,
            "not_yet_heard_from": self.silent,
            "not_yet_told": self.untold,
        }


def stage(age: timedelta, audience: Audience, horizons: Horizons) -> Stage | None:
    """What can still be done about a failure whose window ended ``age`` before the brief
    (negative: still open): None when nothing (everyone told, or past the recovery horizon)."""
    if audience.untold == 0 or age > horizons.recover_within:
        return None
    if age <= horizons.warn_within and audience.silent > 0:
        return Stage.WARN
    return Stage.RECOVER


@dataclass
class Item:
    key: str  # stable across briefs: the same problem keeps its key
    kind: str
    title: str
    action: str
    customers: int
    revenue: float
    control: float
    reach: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    customer_ids: list[str] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)
    stage: str = ""  # warn or recover (systemic failures)
    audience: dict[str, int] = field(default_factory=dict)  # Audience.as_dict()
    acted: dict[str, Any] | None = None  # the latest action on it, and whether figures changed


def unchanged(item: Item, before: Mapping[str, Any]) -> bool:
    """Whether the item's figures (customers, revenue, and who among them was told,
    complained or reviewed) are those recorded when someone acted on it."""
    same = int(before.get("customers", -1)) == item.customers and round(
        float(before.get("revenue", -1.0)), 2
    ) == round(item.revenue, 2)
    return same and dict(before.get("audience") or {}) == item.audience


def rank(items: Iterable[Item], actions: Iterable[Mapping[str, Any]]) -> list[Item]:
    """By reach, highest first; an item acted on whose figures have not changed since the
    latest action on it goes below every other (still listed, so its effect shows)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for a in actions:  # in the order recorded: the last one wins
        latest[str(a["item_key"])] = a
    out = list(items)
    for item in out:
        last = latest.get(item.key)
        if last is not None:
            item.acted = {
                "action_id": last["action_id"],
                "acted_at": last["acted_at"],
                "note": last["note"],
                "actor": last["actor"],
                "figures_changed": not unchanged(item, last["before"]),
            }
    out.sort(key=lambda i: (bool(i.acted and not i.acted["figures_changed"]), -i.reach))
    return out
