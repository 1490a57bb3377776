"""The shared report writer: table, JSON, CSV and Parquet, to the terminal or a file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from cxloop.cli.export import ReportFormat, chosen_format, write_rows
from cxloop.errors import ConfigError

FRAME = pd.DataFrame(
    {"customer_id": ["a", "b"], "n": [3, 1], "at": pd.to_datetime(["2024-01-02", None])}
)


def _console() -> Console:
    return Console(record=True, width=120)


def test_every_format_round_trips(tmp_path: Path) -> None:
    for suffix, reader in ((".csv", pd.read_csv), (".parquet", pd.read_parquet)):
        out = tmp_path / f"rows{suffix}"
        write_rows(_console(), FRAME, ReportFormat.TABLE, out)
        back = reader(out)
        assert list(back["customer_id"]) == ["a", "b"] and list(back["n"]) == [3, 1]
    out = tmp_path / "rows.json"
    write_rows(_console(), FRAME, ReportFormat.JSON, out, meta={"total": 4})
    payload = json.loads(out.read_text())
    assert payload["total"] == 4
    assert payload["rows"][1] == {"customer_id": "b", "n": 1, "at": None}
    assert not list(tmp_path.glob(".*.part"))


def test_terminal_json_and_csv() -> None:
    con = _console()
    write_rows(con, FRAME, ReportFormat.CSV, None)
    assert con.export_text().splitlines()[0] == "customer_id,n,at"
    con = _console()
    write_rows(con, FRAME, ReportFormat.JSON, None)
    assert json.loads(con.export_text())[0]["at"] == "2024-01-02T00:00:00"


def test_unclear_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="name it with --out"):
        chosen_format(ReportFormat.PARQUET, None)
    with pytest.raises(ConfigError, match=r"suffix \.txt"):
        chosen_format(ReportFormat.TABLE, tmp_path / "rows.txt")
    assert chosen_format(ReportFormat.CSV, tmp_path / "rows.txt") is ReportFormat.CSV
