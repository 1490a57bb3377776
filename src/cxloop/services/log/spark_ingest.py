"""Use case: the distributed ingest. Spark maps, checks and appends files to the embedded
store's Parquet log (``cxloop ingest --engine spark``, or ``ingest_engine = "spark"``).

The input's files are spread over Spark's tasks; each task maps its file with the
``generic`` mapping and runs every check in a DuckDB of its own (the very code of the
embedded ingest, so the rows, their content hashes and the quarantine are the same), and
returns the clean rows, the bad rows (file, row, field, reason) and the file's SHA-256 as
Arrow batches. The staged rows are written once as Parquet under the store's ``tmp/``;
then, under the store's write lock, :mod:`cxloop.engines.spark_log` deduplicates them
against the log and writes the new segments, and the run is journalled and recorded as an
embedded ingest is (crash recovery, quarantine, runs). A file is one task: a directory of
many files loads in parallel; one huge file is read by one task (split it to spread it).
Only the ``generic`` mapping runs on Spark; the others, and mapping files, are refused.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.errors import InputError, Unsupported
from cxloop.ingest.mappings import get_mapping
from cxloop.services.log import journal
from cxloop.services.log.ingest import (
    IngestReport,
    Progress,
    _conflicts,
    _metrics_source,
    _now,
    _signature,
    vocabulary,
)
from cxloop.store.eventlog import AppendResult, EventLog
from cxloop.store.state import Problem
from cxloop.workspace.workspace import Workspace

_PROBLEM = ("_kind", "_field", "_reason", "_value", "_record")
_SPARK_TYPES = {"string": "STRING", "timestamp": "TIMESTAMP_NTZ", "float64": "DOUBLE"}


def _schema() -> str:
    from cxloop.domain.events import LOG_COLUMNS

    cols = [f"{c.name} {_SPARK_TYPES.get(c.dtype, 'BIGINT')}" for c in LOG_COLUMNS]
    return ", ".join(cols + [f"{p} STRING" for p in _PROBLEM])


def _stage_file(file: str, conf: dict[str, Any]) -> Iterator[Any]:
    """One file mapped and checked in a DuckDB of its own: Arrow batches of clean rows
    (``_kind`` row), bad rows (``problem``) and the file's digest (``file``)."""
    import duckdb
    import pyarrow as pa

    from cxloop.domain.events import LOG_COLUMNS
    from cxloop.ingest.scales import quarantine_out_of_scale
    from cxloop.ingest.vocabulary import Vocabulary

    names = [c.name for c in LOG_COLUMNS]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
        Vocabulary(*conf["vocabulary"]).apply(con)
        staged = get_mapping("generic").stage(con, Path(file), "_staged")
        staged = quarantine_out_of_scale(
            con, staged, conf["scales"], conf["where"], refuse_unknown=conf["refuse_unknown"]
        )
        problems = ", ".join(f"NULL::VARCHAR AS {p}" for p in _PROBLEM[1:])
        reader = con.execute(
            f"SELECT {', '.join(names)}, 'row' AS _kind, {problems} FROM {staged.table}"
        ).fetch_record_batch(65_536)
        yield from reader
        bad = [
            {"source_file": p.file, "source_row": p.row, "_kind": "problem", "_field": p.field}
            | {"_reason": p.reason, "_value": p.value, "_record": p.record}
            for p in staged.problems
        ]
        digest = {"source_file": file, "source_row": staged.rows_read, "_kind": "file"}
        yield pa.RecordBatch.from_pylist([*bad, digest | {"_value": _sha256(file)}])
    finally:
        con.close()


def _sha256(file: str) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stage_partition(batches: Iterator[Any], conf: dict[str, Any]) -> Iterator[Any]:
    """mapInArrow: each input row is a file; its output batches, cast to the schema."""
    import pyarrow as pa

    schema: pa.Schema = conf["arrow_schema"]
    for batch in batches:
        for file in batch.column("file").to_pylist():
            for out in _stage_file(file, conf):
                cols = [
                    out.column(f.name).cast(f.type)
                    if f.name in out.schema.names
                    else pa.nulls(out.num_rows, f.type)
                    for f in schema
                ]
                yield pa.RecordBatch.from_arrays(cols, schema=schema)


def _conf(ws: Workspace, spark: Any) -> dict[str, Any]:
    from pyspark.sql.pandas.types import to_arrow_schema

    v = vocabulary(ws)
    return {
        "vocabulary": (v.departments, v.unknown_departments, v.channels, v.unknown_channels),
        "scales": dict(ws.scales),
        "where": _metrics_source(ws),
        "refuse_unknown": ws.settings.unknown_metrics == "refuse",
        "arrow_schema": to_arrow_schema(spark.createDataFrame([], _schema()).schema),
    }


def check_supported(ws: Workspace, source: str, mapping: Any, params: Any) -> None:
    if mapping is not None or params or source != "generic":
        raise Unsupported(
            f"--engine spark runs the generic mapping only (not {mapping or source}); load "
            "other sources with the embedded ingest (cxloop ingest without --engine spark)"
        )
    if not isinstance(ws.log, EventLog):
        raise Unsupported(
            "--engine spark writes the embedded store's Parquet log; a PostgreSQL store "
            "loads with the embedded ingest (binary COPY into PostgreSQL)"
        )


def _stage(ws: Workspace, spark: Any, files: list[Path], work: Path) -> tuple[Any, Any]:
    """Stage every file (one Spark task each) into Parquet under ``work``: the clean rows
    (a DataFrame) and the collected bad rows and file digests."""
    conf = _conf(ws, spark)
    inputs = spark.createDataFrame([(str(f),) for f in files], "file STRING")
    inputs = inputs.repartition(max(1, len(files)))
    staged = inputs.mapInArrow(lambda it: _stage_partition(it, conf), _schema())
    staged.write.mode("overwrite").parquet(str(work / "staged"))
    out = spark.read.parquet(str(work / "staged"))
    notes = out.filter("_kind <> 'row'").collect()
    rows = out.filter("_kind = 'row'").drop(*_PROBLEM)
    return rows, notes


def ingest_path(
    ws: Workspace,
    path: str | Path,
    source: str = "generic",
    progress: Progress | None = None,
    force: bool = False,
    mapping: str | Path | None = None,
    params: dict[str, str] | None = None,
) -> IngestReport:
    """Map, check and append with Spark (see the module docstring); the same report,
    quarantine and log as the embedded ingest. Files are always read (``force`` is
    implied): re-reading what was loaded before appends nothing."""
    from cxloop.engines import spark_log
    from cxloop.engines.spark import session

    ws.writable_log("ingest")
    check_supported(ws, source, mapping, params)
    assert isinstance(ws.log, EventLog)
    step = progress or (lambda _msg: None)
    chosen = get_mapping(source)
    try:
        target = Path(path).resolve()
        exists = target.exists()
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from exc
    if not exists:
        raise InputError(f"{path}: no such file or directory")
    files = chosen.inputs(target)
    ingest_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    spark = session(ws.settings)
    work = ws.home.resolve() / "tmp" / f"spark-{ingest_id}"
    try:
        step(f"mapping and checking {len(files)} file(s) on Spark")
        rows, notes = _stage(ws, spark, files, work)
        digests = {n["source_file"]: str(n["_value"]) for n in notes if n["_kind"] == "file"}
        hashes = {str(f): digests[str(f)] for f in files}
        read = sum(int(n["source_row"]) for n in notes if n["_kind"] == "file")
        problems = [
            Problem(
                n["source_file"],
                int(n["source_row"]),
                n["_field"],
                n["_reason"],
                n["_value"],
                n["_record"],
            )
            for n in notes
            if n["_kind"] == "problem"
        ]
        return _append(
            ws,
            spark_log,
            spark,
            rows,
            ingest_id,
            source,
            target,
            hashes,
            read,
            problems,
            work,
            step,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _append(
    ws: Workspace,
    spark_log: Any,
    spark: Any,
    rows: Any,
    ingest_id: str,
    source: str,
    target: Path,
    hashes: dict[str, str],
    read: int,
    staged_problems: list[Problem],
    work: Path,
    step: Progress,
) -> IngestReport:
    """Journal the run and append its rows under the write lock (as the embedded ingest)."""
    journal.recover(ws, wait=False)
    runs = journal.Journal(ws.home)
    runs.begin(ingest_id)
    ws.state.start_run(ingest_id, source, str(target), _now(), _signature(source + ":", hashes))
    entry: dict[str, Any] = {}
    committed = False
    try:
        step("appending new events")
        with ws.write_lock():
            journal.recover_locked(ws)

            def before_commit(appended: AppendResult) -> None:
                problems = sorted(
                    staged_problems + _conflicts(appended), key=lambda p: (p.file, p.row, p.field)
                )
                counts = {
                    "rows_read": read,
                    "events_new": appended.new,
                    "events_duplicate": appended.duplicates,
                    "rows_quarantined": len({(p.file, p.row) for p in problems}),
                    "log_version": appended.version,
                }
                entry.update(journal.record(source, hashes, problems, counts))
                runs.commit(ingest_id, entry)

            assert isinstance(ws.log, EventLog)
            appended = spark_log.append(spark, ws.log, rows, ingest_id, work, before_commit)
            committed = True
            step("recording quarantine")
            journal.apply(ws, ingest_id, entry)
    except BaseException:
        if not committed:
            failed = {**journal.FAILED, "log_version": ws.log.version}
            ws.state.finish_run(ingest_id, _now(), failed, "failed")
            runs.end(ingest_id)
        raise
    counts = entry["counts"]
    return IngestReport(
        ingest_id,
        source,
        str(target),
        list(hashes),
        read,
        appended.new,
        appended.duplicates,
        counts["rows_quarantined"],
        counts["log_version"],
        [Problem(**p) for p in entry["problems"]],
    )
