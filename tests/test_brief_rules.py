"""The brief's rules, pure: what can still be done about a failure, and where an item that
someone acted on goes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cxloop.domain.brief import Audience, Horizons, Item, Stage, rank, stage
from cxloop.errors import ConfigError
from cxloop.settings import Settings

DAY = timedelta(days=1)
H = Horizons(warn_within=28 * DAY, recover_within=90 * DAY)


def test_stage_by_age_and_audience() -> None:
    some_silent = Audience(complained=65, low_review=65, silent=6)
    all_in_touch = Audience(complained=65, low_review=60, reviewed=6)
    assert stage(-3 * DAY, some_silent, H) is Stage.WARN  # still open
    assert stage(28 * DAY, some_silent, H) is Stage.WARN
    assert stage(29 * DAY, some_silent, H) is Stage.RECOVER
    assert stage(10 * DAY, all_in_touch, H) is Stage.RECOVER  # no one left to warn
    assert stage(90 * DAY, some_silent, H) is Stage.RECOVER
    assert stage(217 * DAY, some_silent, H) is None  # history
    assert stage(DAY, Audience(told=71), H) is None  # everyone told
    assert some_silent.untold == 71 and some_silent.as_dict()["not_yet_heard_from"] == 6


def _item(key: str, reach: float, customers: int = 10) -> Item:
    return Item(key, "k", key, "do", customers, 100.0, 1.0, reach=reach, audience={"told": 0})


def test_an_acted_on_item_goes_down_until_its_figures_change() -> None:
    items = [_item("a", 5.0), _item("b", 9.0), _item("c", 1.0)]
    action = {"item_key": "b", "action_id": 1, "acted_at": "t", "note": "n", "actor": "dana"}
    before = {"customers": 10, "revenue": 100.0, "audience": {"told": 0}}
    ranked = rank(items, [action | {"before": before}])
    assert [i.key for i in ranked] == ["a", "c", "b"]
    assert ranked[-1].acted is not None and ranked[-1].acted["figures_changed"] is False
    moved = [_item("a", 5.0), _item("b", 9.0, customers=12), _item("c", 1.0)]
    ranked = rank(moved, [action | {"before": before}])
    assert [i.key for i in ranked] == ["b", "a", "c"] and ranked[0].acted
    told = [_item("b", 9.0), _item("a", 5.0)]
    told[0].audience = {"told": 3}
    assert [i.key for i in rank(told, [action | {"before": before}])] == ["b", "a"]


def test_horizon_settings_are_checked() -> None:
    s = Settings.from_env({"CXLOOP_BRIEF_WARN_WITHIN": "2w"})
    assert (s.brief_warn_within, s.brief_recover_within) == (14 * DAY, 90 * DAY)
    with pytest.raises(ConfigError, match="brief_warn_within"):
        Settings.from_env({"CXLOOP_BRIEF_WARN_WITHIN": "soon"})
    with pytest.raises(ConfigError, match="at least brief_warn_within"):
        Settings.from_env({"CXLOOP_BRIEF_RECOVER_WITHIN": "7d"})
