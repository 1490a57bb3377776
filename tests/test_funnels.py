"""Funnel and path semantics on a small log whose answers are worked out by hand, the
command line (syntax, drill-downs, exports) and the errors that name the step and field."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.domain.funnels import funnel_from_dict, parse_step
from cxloop.errors import ConfigError

BASE = datetime(2026, 1, 1)

#: customer, channel, event type, days after BASE, review score
LOG = [
    ("c1", "web", "order_placed", 0, ""),
    ("c1", "web", "order_shipped", 1, ""),
    ("c1", "web", "order_delivered", 3, ""),
    ("c1", "web", "review", 4, "5"),
    ("c2", "phone", "order_placed", 0, ""),
    ("c2", "phone", "order_shipped", 1, ""),
    ("c2", "phone", "order_delivered", 40, ""),  # outside a 30-day window
    ("c3", "phone", "order_placed", 0, ""),
    ("c3", "phone", "order_canceled", 1 / 24, ""),
    ("c3", "phone", "order_shipped", 1, ""),
    ("c3", "phone", "order_delivered", 2, ""),
    ("c4", "phone", "order_placed", 0, ""),  # a first attempt that goes nowhere
    ("c4", "phone", "order_placed", 100, ""),
    ("c4", "phone", "order_shipped", 101, ""),
    ("c4", "phone", "order_delivered", 102, ""),
    ("c5", "web", "order_shipped", 0, ""),  # out of order
    ("c5", "web", "order_placed", 1, ""),
    ("c5", "web", "order_delivered", 2, ""),
    ("c6", "web", "order_placed", 0, ""),
    ("c6", "web", "review", 2 / 24, "1"),  # a complaint before shipping
    ("c6", "web", "order_shipped", 1, ""),
    ("c6", "web", "order_delivered", 5, ""),
]
THREE = ["placed: order_placed", "shipped: order_shipped", "delivered: order_delivered"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("funnels")
    lines = ["event_id,customer_id,channel,event_type,ts,score"]
    for i, (c, ch, t, days, score) in enumerate(LOG):
        ts = (BASE + timedelta(days=days)).isoformat() + "Z"
        lines.append(f"e{i:02d},{c},{ch},{t},{ts},{score}")
    (root / "log.csv").write_text("\n".join(lines) + "\n")
    with cxloop.open(root / "store") as cx:
        assert cx.ingest(root / "log.csv").events_new == len(LOG)
    return root / "store"


@pytest.fixture(scope="module")
def cx(home: Path) -> cxloop.Cxloop:
    with cxloop.open(home) as handle:
        yield handle


def counts(result: object) -> list[int]:
    return [int(n) for n in result.steps.customers]  # type: ignore[attr-defined]


def test_ordered_funnel_best_attempt_window_and_drill_down(cx: cxloop.Cxloop) -> None:
    r = cx.funnel(THREE, window="30d")
    assert counts(r) == [6, 5, 4]
    assert list(r.steps.dropped) == [0, 1, 1]
    assert list(cx.funnel_dropped(r, "shipped").customer_id) == ["c5"]
    assert list(cx.funnel_dropped(r, "3").customer_id) == ["c2"]
    # c4 counts with its second attempt (placed on day 100): 48 hours, like c3
    conv = cx.funnel_converted(r).set_index("customer_id").hours_to_convert.to_dict()
    assert conv == {"c1": 72.0, "c3": 48.0, "c4": 48.0, "c6": 120.0}
    assert r.time_to_convert["median"] == 60.0 and r.time_to_convert["p90"] == pytest.approx(105.6)
    assert int(r.histogram.customers.sum()) == 4
    assert r.steps.conversion_from_previous.tolist() == [1.0, 5 / 6, 4 / 5]


def test_exclusion_removes_the_attempt(cx: cxloop.Cxloop) -> None:
    r = cx.funnel(THREE, window="30d", exclude=["order_canceled between placed and delivered"])
    assert counts(r) == [5, 4, 3]  # c3 cancelled in between: not in the funnel at all
    late = cx.funnel(THREE, window="30d", exclude=["order_canceled between 2 and 3"])
    assert counts(late) == [6, 5, 4]  # c3 cancelled before it shipped: not between 2 and 3


def test_strict_unordered_step_window_optional(cx: cxloop.Cxloop) -> None:
    assert counts(cx.funnel(THREE, window="30d", order="strict")) == [6, 3, 2]
    unordered = cx.funnel(THREE, window="30d", order="unordered")
    assert counts(unordered) == [6, 6, 5]  # c5 did all three, out of order; c2 two in time
    steps = [*THREE[:2], "delivered: order_delivered within 2d"]
    assert counts(cx.funnel(steps, window="30d")) == [6, 5, 3]  # c6: 4 days after shipping
    optional = [THREE[0], "complained: review where score<=2 optional", *THREE[1:]]
    r = cx.funnel(optional, window="30d")
    assert counts(r) == [6, 1, 5, 4]
    assert list(r.steps.dropped) == [0, 5, 1, 1]
    assert list(cx.funnel_dropped(r, "complained").customer_id) == ["c1", "c2", "c3", "c4", "c5"]


def test_breakdown_by_the_first_steps_channel(cx: cxloop.Cxloop) -> None:
    r = cx.funnel(THREE, window="30d", by="channel", conversion_from="previous")
    got = {
        (b, s): n
        for b, s, n in zip(r.steps.breakdown, r.steps.step, r.steps.customers, strict=True)
    }
    assert got == {
        ("phone", 1): 3, ("phone", 2): 3, ("phone", 3): 2,
        ("web", 1): 3, ("web", 2): 2, ("web", 3): 2,
    }  # fmt: skip
    assert r.steps.conversion.tolist() == r.steps.conversion_from_previous.tolist()


def test_paths_after_and_between(cx: cxloop.Cxloop) -> None:
    after = cx.paths(after="order_placed", steps=2)
    top = after.iloc[0]
    assert (top.path, top.customers) == ("order_shipped → order_delivered", 2)
    assert top.share == pytest.approx(2 / 6)
    assert after.attrs["total"] == 6
    assert set(cx.path_customers(1, after="order_placed", steps=2).customer_id) == {"c1", "c2"}
    between = cx.paths(between=("order_placed", "order_delivered"), steps=3)
    got = dict(zip(between.path, between.customers, strict=True))
    assert got == {
        "order_shipped → (end)": 2,
        "order_canceled → order_shipped → (end)": 1,
        "order_placed → order_shipped → (end)": 1,
        "review → order_shipped → (end)": 1,
        "(end)": 1,
    }
    before = cx.paths(before="order_delivered", steps=1)
    assert dict(zip(before.path, before.customers, strict=True))["order_shipped"] == 5


def test_step_syntax_and_errors() -> None:
    s = parse_step("late: order_delivered where region=SP and amount>=10 within 3d optional", 2)
    assert (s.name, s.event, s.optional, s.within) == (
        "late",
        "order_delivered",
        True,
        timedelta(3),
    )
    assert [c.text() for c in s.where] == ["region=SP", "amount>=10"]
    with pytest.raises(ConfigError, match=r"step 2: field 'event': unknown event type 'order_x'"):
        parse_step("order_x", 2)
    with pytest.raises(ConfigError, match=r"step 3: field 'within': '3x' is not a duration"):
        parse_step("review within 3x", 3)
    with pytest.raises(ConfigError, match=r"step 1: field 'where': 'score' is not KEY OP VALUE"):
        parse_step("review where score", 1)
    bad = {"steps": [{"event": "order_placed"}, {"name": "paid", "event": ""}]}
    with pytest.raises(ConfigError, match=r"f.toml: step 2 \(paid\): field 'event': missing"):
        funnel_from_dict(bad, "f.toml")
    excl = {"steps": [{"event": "order_placed"}, {"event": "review"}], "exclude": [{}]}
    excl["exclude"] = [{"event": "order_canceled", "between": ["order_placed", "nope"]}]
    with pytest.raises(ConfigError, match=r"exclusion 1: field 'between': no step 'nope'"):
        funnel_from_dict(excl, "f.toml")


def test_cli_funnel_exports_and_drill_down(home: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke
    args = ["funnel", "--home", str(home), *[a for s in THREE for a in ("--step", s)]]
    res = run(app, [*args, "--window", "30d", "--format", "json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert [r["customers"] for r in payload["rows"]] == [6, 5, 4]
    assert payload["time_to_convert"]["converted"] == 4
    out = tmp_path / "dropped.csv"
    res = run(app, [*args, "--window", "30d", "--dropped", "delivered", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().count("\n") - 1 == payload["rows"][2]["dropped"] == 1
    toml = tmp_path / "f.toml"
    toml.write_text(
        'window = "30d"\n[[steps]]\nevent = "order_placed"\n[[steps]]\nevent = "revew"\n'
    )
    res = run(app, ["funnel", "--home", str(home), "--file", str(toml)])
    assert res.exit_code == 1 and "step 2: field 'event': unknown event type 'revew'" in str(
        res.exception
    )
    res = run(app, ["paths", "--home", str(home), "--after", "order_placed", "-f", "csv"])
    assert res.exit_code == 0 and res.output.startswith("rank,path,customers,share")
