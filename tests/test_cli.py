"""The command line, run as a user runs it (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_ingest import BAD, GOOD, write_csv


def run(
    home: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CXLOOP_HOME": str(home), "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "cxloop", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def run_here(
    home: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """:func:`run` without the fresh interpreter: the same entry point (``cxloop.cli.main``,
    with its error handling and exit codes) in this process, its output captured by typer's
    CliRunner. Saves the 3-4 CPU-seconds of starting Python and importing cxloop (and the
    embedding model's load) for each further command of a test that already ran one as a
    user does."""
    from typer.testing import CliRunner

    from cxloop.cli.main import main

    env = {"CXLOOP_HOME": str(home), "COLUMNS": "200", **(env or {})}
    argv, code = sys.argv, 0
    with CliRunner().isolation(env=env) as (out, err, _):
        sys.argv = ["cxloop", *args]
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            sys.argv = argv
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    proc = subprocess.CompletedProcess(["cxloop", *args], code, stdout, stderr)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store loaded by a real ``cxloop ingest`` process, once for the module's readers
    (each reads it through the CLI's entry point in this process)."""
    root = tmp_path_factory.mktemp("loaded")
    home = root / "store"
    run(home, "ingest", str(write_csv(root / "events.csv", GOOD + BAD)))
    return home


def test_ingest_prints_counts_and_problems(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "events.csv", GOOD + BAD)
    proc = run(tmp_path / "s", "ingest", str(f))
    assert (
        "4 new events from 9 rows (1 file(s), source generic); 0 already in the log; "
        "5 row(s) quarantined." in proc.stdout
    )
    assert "unparsable date 31/02/2026" in proc.stdout
    again = json.loads(run_here(tmp_path / "s", "ingest", str(f), "--format", "json").stdout)
    assert (again["events_new"], again["events_duplicate"]) == (0, 4)


def test_quarantine_json(loaded: Path) -> None:
    out = json.loads(run_here(loaded, "quarantine", "--format", "json").stdout)
    assert out["count"] == 5
    assert {r["field"] for r in out["rows"]} == {
        "customer_id",
        "event_type",
        "ts",
        "amount",
        "attrs",
    }
    assert all(r["file"].endswith("events.csv") and r["row"] > 0 for r in out["rows"])


def test_timeline_in_time_order(loaded: Path) -> None:
    out = json.loads(run_here(loaded, "timeline", "c1", "--format", "json").stdout)
    assert [e["event_type"] for e in out["events"]] == [
        "order_placed",
        "order_shipped",
        "order_delivered",
    ]
    table = run_here(loaded, "timeline", "c1").stdout
    assert "Timeline of c1: 3 event(s)" in table and "fulfillment" in table


def test_promises_report_schema(loaded: Path) -> None:
    out = json.loads(
        run_here(loaded, "promises", "--by", "kind", "--by", "state", "--format", "json").stdout
    )
    assert set(out) == {"as_of", "log_version", "rules_version", "groups"}
    kinds = {g["kind"]: g for g in out["groups"]["kind"]}
    assert set(kinds) == {"delivery", "reply"}
    delivery = kinds["delivery"]
    assert delivery["total"] == 1
    assert delivery["kept"] == 1 and delivery["kept_rate"] == 1.0
    reply = json.loads(run_here(loaded, "promises", "--customer", "c2", "--format", "json").stdout)
    assert [p["rule"] for p in reply["promises"]] == ["reply_email"]
    # as of the latest event (03-04 13:00) the 24h e-mail reply due 03-04 08:00 is overdue
    assert reply["promises"][0]["state"] == "broken"
    assert reply["promises"][0]["breach"] == "not_fulfilled"


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    proc = run(tmp_path / "s", "ingest", str(tmp_path / "nope.csv"), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.csv'}: no such file or directory"
    proc = run_here(tmp_path / "s", "promises", "--by", "colour", check=False)
    assert proc.returncode == 1 and "expected one of kind, rule, department" in proc.stderr


def test_rules_check_names_the_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(
        '[[rules]]\nname = "x"\nkind = "x"\ndepartment = "support"\n'
        'opens_on = "order_placed"\nfulfilled_by = "nope"\ndue_after = "1d"\n'
    )
    proc = run(tmp_path / "s", "rules", "check", str(bad), check=False)
    assert proc.returncode == 1
    assert "rule #1 (x), field 'fulfilled_by': unknown event type 'nope'" in proc.stderr
    ok = json.loads(run_here(tmp_path / "s", "rules", "check", "--format", "json").stdout)
    assert len(ok["rules"]) == 8


def test_quarantine_filtered_by_file_name(loaded: Path) -> None:
    out = json.loads(
        run_here(loaded, "quarantine", "--file", "events.csv", "--format", "json").stdout
    )
    assert out["count"] == 5
    none = json.loads(
        run_here(loaded, "quarantine", "--file", "other.csv", "--format", "json").stdout
    )
    assert none["count"] == 0


def test_a_usage_error_prints_usage_not_a_traceback(tmp_path: Path) -> None:
    proc = run(tmp_path / "store", "rules", "check", "--format", "bogus", check=False)
    assert proc.returncode == 2
    assert "Usage: " in proc.stderr and "Traceback" not in proc.stderr


def test_the_built_in_policy_is_a_start_for_one_in_another_currency(tmp_path: Path) -> None:
    """docs/olist.md: a store in BRL refuses the USD built-in policy; a copy in BRL loads."""
    text = run(tmp_path / "s", "policy", "show", "--source").stdout
    assert 'currency = "USD"' in text and "[[grants]]" in text
    brl = tmp_path / "policy-brl.toml"
    brl.write_text(text.replace('currency = "USD"', 'currency = "BRL"'))
    env = {"CXLOOP_CURRENCY": "BRL"}
    key = ("keys", "create", "--name", "ana", "--role", "agent")
    refused = run_here(tmp_path / "s", *key, check=False, env=env)
    assert refused.returncode == 1 and "amounts are in USD but the data's currency is BRL" in (
        refused.stderr
    )
    ok = run_here(tmp_path / "s", *key, env=env | {"CXLOOP_POLICY": str(brl)})
    assert ok.returncode == 0 and "cxk_" in ok.stdout
