"""Every report command writes its rows as CSV, Parquet or JSON (--format, --out), and the
files hold the rows the command's JSON answer holds; a figure's drill-down lists as many
promises as the figure counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.errors import ConfigError
from tests.conftest import demo_copy


@pytest.fixture(scope="module")
def home(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store with cases filed and systemic failures detected."""
    home = demo_copy(demo_store, tmp_path_factory.mktemp("reports"))
    with cxloop.open(home) as cx:
        cx.sync_cases()
        cx.detect_incidents()
    return home


def cli(home: Path, *args: str) -> str:
    done = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert done.exit_code == 0, done.output
    return done.stdout


def _customer(home: Path) -> str:
    with cxloop.open(home) as cx:
        return str(cx.promise_customers("broken")["customer_id"].iloc[0])


def _incident(home: Path) -> str:
    return str(json.loads(cli(home, "outreach", "detect", "-f", "json"))[0]["incident_id"])


def _flat_keys(metrics: dict[str, Any]) -> list[str]:
    """``cases metrics`` as rows: one per figure, a section's figures one level down."""
    top = [k for k, v in metrics.items() if not isinstance(v, dict)]
    return top + [k for v in metrics.values() if isinstance(v, dict) for k in v]


#: each report command, and where its JSON answer keeps the rows the files carry
#: (None: the answer is the list of rows; a callable: the rows made from the answer)
REPORTS: dict[str, tuple[tuple[str, ...], Any]] = {
    "timeline": (("timeline", "{customer}"), "events"),
    "promises": (("promises",), lambda a: [r for rows in a["groups"].values() for r in rows]),
    "promises --customer": (("promises", "--customer", "{customer}"), "promises"),
    "promises --customers": (("promises", "--customers", "broken"), "rows"),
    "baselines": (("baselines",), "baselines"),
    "quarantine": (("quarantine", "--all"), "rows"),
    "cases list": (("cases", "list"), None),
    "cases audit": (("cases", "audit"), None),
    "cases approvals": (("cases", "approvals"), None),
    "cases metrics": (("cases", "metrics"), lambda a: [*_flat_keys(a)]),
    "outreach detect": (("outreach", "detect"), None),
    "outreach cohort": (("outreach", "cohort", "{incident}"), "cohort"),
    "outreach status": (("outreach", "status"), None),
    "voice scores": (("voice", "scores"), None),
    "voice sentiment": (("voice", "sentiment"), "summary"),
    "voice topics": (("voice", "topics"), "topics"),
    "voice emerging": (("voice", "emerging"), "tests"),
    "voice drivers": (("voice", "drivers"), "drivers"),
    "voice compare": (("voice", "compare"), "subjects"),
}


def _rows(answer: Any, where: Any) -> list[Any]:
    if where is None:
        return list(answer)
    if callable(where):
        return list(where(answer))
    return list(answer[where])


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_writes_csv_parquet_and_json_files(
    name: str, home: Path, tmp_path: Path
) -> None:
    template, where = REPORTS[name]
    fill = {"customer": _customer(home) if "{customer}" in template else ""}
    fill["incident"] = _incident(home) if "{incident}" in template else ""
    args = [a.format(**fill) for a in template]
    answer_file = tmp_path / "answer.json"
    cli(home, *args, "--format", "json", "--out", str(answer_file))
    answer = json.loads(answer_file.read_text())
    want = _rows(answer, where)
    for suffix, read in ((".csv", pd.read_csv), (".parquet", pd.read_parquet)):
        out = tmp_path / f"rows{suffix}"
        said = cli(home, *args, "--out", str(out))  # the suffix chooses the format
        assert said.strip() == f"wrote {len(want):,} rows to {out}"
        if not want:
            continue
        back = read(out)
        assert len(back) == len(want), name
        if isinstance(want[0], dict) and name != "promises":  # the report: + by, value
            assert list(back.columns) == list(want[0]), name


@pytest.mark.parametrize("args", [("timeline", "{customer}"), ("promises", "--by", "month")])
def test_a_json_file_holds_what_the_terminal_shows(
    args: tuple[str, ...], home: Path, tmp_path: Path
) -> None:
    args = tuple(a.format(customer=_customer(home)) for a in args)
    cli(home, *args, "--format", "json", "--out", str(tmp_path / "a.json"))
    shown = json.loads(cli(home, *args, "--format", "json"))
    assert json.loads((tmp_path / "a.json").read_text()) == shown


def test_csv_cells_equal_the_json_answer(home: Path, tmp_path: Path) -> None:
    answer = json.loads(cli(home, "voice", "topics", "-f", "json"))["topics"]
    cli(home, "voice", "topics", "-f", "csv", "-o", str(tmp_path / "t.csv"))
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back["texts"]) == [r["texts"] for r in answer]
    assert [json.loads(e) for e in back["examples"]] == [r["examples"] for r in answer]
    shown = cli(home, "voice", "topics", "-f", "csv")  # to the terminal
    assert shown.splitlines()[0].split(",")[:2] == list(answer[0])[:2]


def test_promise_drill_down_totals_equal_the_report(home: Path, tmp_path: Path) -> None:
    report = json.loads(cli(home, "promises", "--by", "department", "-f", "json"))
    rows = report["groups"]["department"]
    assert rows
    for row in rows:
        for figure in ("total", "broken", "broken_late", "kept", "below_baseline"):
            where = f"department={row['department']}"
            got = json.loads(
                cli(home, "promises", "--customers", figure, "--where", where, "-f", "json")
            )
            assert got["count"] == len(got["rows"]) == row[figure], (where, figure)
            assert all(r["department"] == row["department"] for r in got["rows"])
    # an independent count from the ledger's rows with plain pandas
    with cxloop.open(home) as cx:
        ledger = cx.ledger().execute()
    month = ledger["due_at"].dt.strftime("%Y-%m").iloc[0]
    want = ledger[(ledger["due_at"].dt.strftime("%Y-%m") == month) & (ledger["state"] == "broken")]
    cli(
        home,
        "promises",
        "--customers",
        "broken",
        "--where",
        f"month={month}",
        "-o",
        str(tmp_path / "c.parquet"),
    )
    back = pd.read_parquet(tmp_path / "c.parquet")
    assert sorted(back["promise_id"]) == sorted(want["promise_id"])
    assert set(back["customer_id"]) == set(want["customer_id"])


def test_a_bad_drill_down_names_the_option(home: Path) -> None:
    for args, says in (
        (["--where", "colour=red"], "--where colour=red"),
        (["--where", "department"], "--where department: expected DIM=VALUE"),
        ([], "figure 'sad'"),
    ):
        figure = "sad" if not args else "broken"
        done = CliRunner().invoke(
            app, ["promises", "--customers", figure, *args, "--home", str(home)]
        )
        assert isinstance(done.exception, ConfigError) and says in str(done.exception)
