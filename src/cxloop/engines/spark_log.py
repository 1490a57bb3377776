"""Appending to the embedded store's Parquet log with Spark (the distributed ingest).

The same contract as :meth:`cxloop.store.eventlog.EventLog.append`, computed by Spark
jobs instead of one DuckDB: incoming rows are joined with the log's ids (an id already
logged with the same content hash is a duplicate, with another a conflict); an id new to
the log but repeated in the batch is appended once, its first copy by file and row (a later
copy is a duplicate or a conflict); conflicts whose ``attrs`` differ only in spacing or
key order are duplicates (:mod:`cxloop.store.sameevent`). The new rows are written in
:data:`~cxloop.store.eventlog.SEGMENT_ORDER`, range-partitioned into files of at most
:data:`ROWS_PER_FILE` rows, under the store's ``tmp/``; each file becomes one segment. The
commit is the embedded store's: files renamed into ``events/`` and fsynced, then the
manifest (one version for the whole append) renamed over the old one; a crash before that
leaves files the manifest never listed, which recovery deletes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from cxloop.domain.events import LOG_COLUMNS
from cxloop.store import crash, sameevent
from cxloop.store.eventlog import SEGMENT_ORDER, AppendResult, BeforeCommit, EventLog
from cxloop.store.files import fsync_dir, fsync_file, write_json_atomic

#: the most rows one segment file written by a Spark append holds
ROWS_PER_FILE = 4_000_000
_NAMES = [c.name for c in LOG_COLUMNS]
_CONFLICT_COLUMNS = (
    "source_file",
    "source_row",
    "event_id",
    "_log_ingest",
    "_first_file",
    "_first_row",
)


def _classified(spark: Any, log: EventLog, manifest: dict[str, Any], staged: Any) -> Any:
    """``staged`` with the logged copy's hash and ingest (``_log_hash``, ``_log_ingest``),
    each copy's place among the batch's copies of its id (``_k``) and the first copy's hash
    (``_first``). Only ids the batch holds more than once are numbered by a window (the
    others are their own first copy), so the rows are not all shuffled and sorted by id."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    paths = [str(p.resolve()) for p in log.segment_paths(manifest)]
    if paths:
        logged = spark.read.parquet(*paths).select(
            "event_id",
            F.col("content_hash").alias("_log_hash"),
            F.col("ingest_id").alias("_log_ingest"),
        )
        joined = staged.join(logged, "event_id", "left")
    else:  # an empty log: nothing to join
        none = F.lit(None).cast("string")
        joined = staged.withColumn("_log_hash", none).withColumn("_log_ingest", none)
    repeated = F.broadcast(
        staged.groupBy("event_id").count().filter("count > 1").select("event_id")
    )
    window = Window.partitionBy("event_id").orderBy("source_file", "source_row", "content_hash")
    numbered = (
        joined.join(repeated, "event_id")
        .withColumn("_k", F.row_number().over(window))
        .withColumn("_first", F.first("content_hash").over(window))
        .withColumn("_first_file", F.first("source_file").over(window))
        .withColumn("_first_row", F.first("source_row").over(window))
    )
    single = (
        joined.join(repeated, "event_id", "left_anti")
        .withColumn("_k", F.lit(1))
        .withColumn("_first", F.col("content_hash"))
        .withColumn("_first_file", F.col("source_file"))
        .withColumn("_first_row", F.col("source_row"))
    )
    return single.unionByName(numbered)


def _settled(
    spark: Any, log: EventLog, manifest: dict[str, Any], done: Any
) -> dict[tuple[str, int, str], list[str]]:
    """Per (file, row, event_id) of a hash mismatch, the columns that differ (none: the
    same event after all)."""
    from pyspark.sql import functions as F

    cols = sameevent.CONTENT_COLUMNS
    mine = [F.col(f"i.{c}").alias(f"a_{c}") for c in cols]
    pairs: list[Any] = []
    clash = done.filter("_log_hash IS NOT NULL AND _log_hash <> content_hash").alias("i")
    paths = [str(p.resolve()) for p in log.segment_paths(manifest)]
    if paths:
        logged = spark.read.parquet(*paths).alias("e")
        theirs = [F.col(f"e.{c}").alias(f"b_{c}") for c in cols]
        pairs += (
            clash.join(logged, F.col("i.event_id") == F.col("e.event_id"))
            .select("i.source_file", "i.source_row", "i.event_id", *mine, *theirs)
            .collect()
        )
    later = done.filter("_log_hash IS NULL AND _k > 1 AND content_hash <> _first").alias("i")
    first = done.filter("_log_hash IS NULL AND _k = 1").alias("f")
    theirs = [F.col(f"f.{c}").alias(f"b_{c}") for c in cols]
    pairs += (
        later.join(first, F.col("i.event_id") == F.col("f.event_id"))
        .select("i.source_file", "i.source_row", "i.event_id", *mine, *theirs)
        .collect()
    )
    return sameevent.differences(tuple(p) for p in pairs)


def _write_new(done: Any, new: int, out: Path) -> list[Path]:
    """The new rows as zstd Parquet files under ``out``, in segment order; the files."""
    from pyspark.sql import functions as F

    order = [c.strip() for c in SEGMENT_ORDER.split(",")]
    parts = max(1, -(-new // ROWS_PER_FILE))
    rows = done.filter("_log_hash IS NULL AND _k = 1").select(*_NAMES)
    rows = rows.repartitionByRange(parts, *[F.col(c) for c in order]).sortWithinPartitions(*order)
    rows.write.mode("overwrite").option("compression", "zstd").parquet(str(out))
    return sorted(p for p in out.glob("part-*.parquet"))


def append(
    spark: Any,
    log: EventLog,
    staged: Any,
    ingest_id: str,
    scratch: Path,
    before_commit: BeforeCommit | None = None,
) -> AppendResult:
    """Append Spark DataFrame ``staged`` (log columns but ``ingest_id``) to ``log``; call
    under the store's write lock. Work files go to ``scratch`` (removed afterwards)."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    manifest = log.manifest()
    work = scratch / f"spark-append-{ingest_id}"
    try:
        incoming = staged.withColumn("ingest_id", F.lit(ingest_id))
        _classified(spark, log, manifest, incoming).write.mode("overwrite").parquet(
            str(work / "classified")
        )
        done = spark.read.parquet(str(work / "classified"))
        totals = done.agg(
            F.sum(F.expr("CAST(_log_hash IS NULL AND _k = 1 AS INT)")).alias("new"),
            F.sum(F.expr("CAST(_log_hash = content_hash AS INT)")).alias("known"),
            F.sum(
                F.expr("CAST(_log_hash IS NULL AND _k > 1 AND content_hash = _first AS INT)")
            ).alias("repeats"),
        ).collect()[0]
        new = int(totals["new"] or 0)
        conflicts = done.filter(
            "(_log_hash IS NOT NULL AND _log_hash <> content_hash)"
            " OR (_log_hash IS NULL AND _k > 1 AND content_hash <> _first)"
        ).select(*_CONFLICT_COLUMNS)
        found = sorted(tuple(r) for r in conflicts.collect())
        differs = _settled(spark, log, manifest, done) if found else {}
        same = {key for key, names in differs.items() if not names}
        version = int(manifest["version"]) + (1 if new else 0)
        files = _write_new(done, new, work / "new") if new else []
        segments = _place(log, files, version, ingest_id, pq)
        result = AppendResult(
            new=new,
            duplicates=int(totals["known"] or 0)
            + int(totals["repeats"] or 0)
            + sum((f, int(r), eid) in same for f, r, eid, *_ in found),
            conflicts=[
                {"file": f, "row": int(r), "event_id": eid, "log_ingest": li}
                | {"differs": differs.get((f, int(r), eid), [])}
                | ({} if li else {"first_file": ff, "first_row": int(fr)})
                for f, r, eid, li, ff, fr in found
                if (f, int(r), eid) not in same
            ],
            segment=segments[0]["file"] if segments else None,
            version=version,
        )
        if before_commit is not None:
            before_commit(result)
        if segments:
            manifest["segments"].extend(segments)
            manifest["version"] = version
            write_json_atomic(log.manifest_path, manifest)
        crash.point("log-committed")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _place(
    log: EventLog, files: list[Path], version: int, ingest_id: str, pq: Any
) -> list[dict[str, Any]]:
    """Move written files into the log's folder as segments (fsynced, not yet listed)."""
    log.root.mkdir(parents=True, exist_ok=True)
    segments = []
    for i, part in enumerate(files):
        rows = int(pq.ParquetFile(part).metadata.num_rows)
        if not rows:
            continue
        name = f"seg-{version:06d}-{ingest_id}-p{i:04d}.parquet"
        fsync_file(part)
        crash.point("segment-written")
        os.replace(part, log.root / name)
        segments.append({"file": name, "rows": rows, "ingest_id": ingest_id})
    if segments:
        fsync_dir(log.root)
        crash.point("segment-renamed")
    return segments
