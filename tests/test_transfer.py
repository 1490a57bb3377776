"""`cxloop export` / `cxloop import`: an event log moves between stores without loss."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

import cxloop
from cxloop.errors import InputError
from cxloop.services.log.transfer import export_log, import_log
from tests.test_cli import run, run_here


@pytest.fixture(scope="module")
def exported(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "log"
    with cxloop.open(demo_store) as cx:
        export_log(cx.workspace, out)
    return out


def test_export_then_import_is_the_same_log(
    demo_store: Path, exported: Path, tmp_path: Path
) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    with cxloop.open(demo_store) as src:
        n = src.events().count().execute()
        report_before = src.promise_report("department")
    assert manifest["rows"] == n and len(manifest["checksum"]) == 32
    with cxloop.open(tmp_path / "other") as dst:
        result = import_log(dst.workspace, exported)
        assert result["verified"] and result["events_new"] == n
        assert result["store_checksum"] == manifest["checksum"]
        assert dst.events().count().execute() == n
        assert dst.promise_report("department").equals(report_before)  # same ledger numbers
        again = import_log(dst.workspace, exported)
        assert (again["events_new"], again["events_duplicate"]) == (0, n) and again["verified"]
        # lineage travels: where each event first came from
        row = dst.events().filter(dst.events().source_row == 1).limit(1).execute()
        assert row.source_file.iloc[0].endswith((".csv", ".jsonl"))


def test_a_changed_file_is_refused(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    data = copy / "events.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM "
        f"read_parquet('{data}')) THEN 999999.0 ELSE amount END AS amount) "
        f"FROM read_parquet('{data}')) TO '{tmp_path}/x.parquet' (FORMAT parquet)"
    )
    con.close()
    shutil.move(tmp_path / "x.parquet", data)
    with cxloop.open(tmp_path / "store") as cx:
        with pytest.raises(InputError, match="the manifest says"):
            import_log(cx.workspace, copy)
        assert cx.events().count().execute() == 0  # nothing imported
        # without the manifest, the row's own hash gives it away: quarantined, named
        result = import_log(cx.workspace, data)
        assert not result["verified"] and result["rows_quarantined"] == 1
        problem = result["problems"][0]
        assert (problem["row"], problem["field"]) == (1, "content_hash")
        assert result["events_new"] == result["rows_read"] - 1
        assert cx.quarantine()["field"].tolist() == ["content_hash"]


def test_cli_export_and_import(demo_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    done = json.loads(
        run(demo_store, "export", str(out), "--format", "parquet", "--report", "json").stdout
    )
    assert done["rows"] > 40_000
    text = run_here(tmp_path / "store", "import", str(out)).stdout
    assert "verified in the store" in text and f"{done['rows']:,} new" in text
    bad = run_here(tmp_path / "store", "import", str(tmp_path / "nothing"), check=False)
    assert bad.returncode == 1 and "no such file or directory" in bad.stderr
    wrong = run_here(demo_store, "export", str(out), "--format", "csv", check=False)
    assert wrong.returncode == 1 and "unknown export format 'csv'" in wrong.stderr
