"""The Spark engine (``engine = "spark"``): the same Ibis analytics on a Spark session.

Spark reads the event log as Parquet: the segments of the store in ``home`` (what the
embedded store writes), or ``spark_events`` (a directory such as the ``events.parquet``
of ``cxloop export``, on any filesystem Spark can read: ``s3a://``, ``abfss://``,
``hdfs://``). Results (the ledger) are written back as Parquet directories under
``spark_output`` (default ``home/ledger``), which every executor must be able to reach.

One session per process, created on first use: ``spark_remote`` (a Spark Connect URL)
when set, else ``spark_master`` (``local[2]`` by default), with ``spark_shuffle_partitions``
partitions per shuffle (by default two per core). Timestamps are read and written
without a time zone (``TIMESTAMP_NTZ``, microseconds), as cxloop stores them (UTC), and
the session's time zone is UTC.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

from cxloop.domain.events import LOG_COLUMNS
from cxloop.engines.base import EngineContext
from cxloop.errors import ConfigError, Unsupported
from cxloop.settings import Settings
from cxloop.store.eventlog import EventLog

# the engine functions the analytics call (cxloop.analytics.attrs), as Spark SQL
SPARK_FUNCTIONS = (
    "CREATE OR REPLACE TEMPORARY FUNCTION cx_attr(a STRING, k STRING) RETURNS STRING "
    "RETURN get_json_object(a, concat('$.', k))",
    "CREATE OR REPLACE TEMPORARY FUNCTION cx_attr_number(a STRING, k STRING) RETURNS DOUBLE "
    "RETURN try_cast(get_json_object(a, concat('$.', k)) AS DOUBLE)",
    "CREATE OR REPLACE TEMPORARY FUNCTION cx_attr_time(a STRING, k STRING) "
    "RETURNS TIMESTAMP_NTZ RETURN try_cast(get_json_object(a, concat('$.', k)) AS TIMESTAMP_NTZ)",
)
_lock = threading.Lock()
_sessions: dict[tuple[str, str, int], Any] = {}
_views: set[tuple[int, str]] = set()  # (session, view) registered over unchanged local files


def _local_stamp(paths: list[str]) -> tuple[tuple[str, int, int, int], ...] | None:
    """(path, inode, size, mtime) of every local file under ``paths`` (a Parquet directory's
    files included); None where one is not a local path."""
    found = []
    for path in paths:
        if "://" in path and not path.startswith("file://"):
            return None
        p = Path(path.removeprefix("file://"))
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            try:
                st = f.stat()
            except OSError:
                return None
            found.append((str(f), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(found)


def session(settings: Settings) -> Any:
    """The process's Spark session for these settings (started once; a few seconds)."""
    key = (settings.spark_remote, settings.spark_master, settings.spark_shuffle_partitions)
    with _lock:
        if key in _sessions:
            return _sessions[key]
        try:
            from pyspark.sql import SparkSession
        except ImportError:  # pragma: no cover - pyspark is a pinned dependency
            raise ConfigError(
                "engine=spark needs pyspark (pip install 'pyspark>=3.5,<4.1')"
            ) from None
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python tasks (the Spark ingest) run in this interpreter's environment
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        warehouse = Path(tempfile.mkdtemp(prefix="cxloop-spark-"))
        builder = SparkSession.builder.appName("cxloop")
        if settings.spark_remote:
            builder = builder.remote(settings.spark_remote)
        else:
            builder = (
                builder.master(settings.spark_master)
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", os.environ["SPARK_LOCAL_IP"])
                .config("spark.driver.bindAddress", os.environ["SPARK_LOCAL_IP"])
                .config("spark.sql.warehouse.dir", str(warehouse))
                .config("spark.ui.showConsoleProgress", "false")
            )
        spark = (
            builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .getOrCreate()
        )
        _tune(spark, settings)
        for statement in SPARK_FUNCTIONS:
            spark.sql(statement)
        _sessions[key] = spark
        return spark


def _tune(spark: Any, settings: Settings) -> None:
    """Quiet logs, and ``spark_shuffle_partitions`` (0: two per core Spark has; over Spark
    Connect, 0 leaves the server's own). Spark's own default, 200, costs a small log 200
    tasks per shuffle, most of them empty."""
    partitions = settings.spark_shuffle_partitions
    if not settings.spark_remote:
        spark.sparkContext.setLogLevel("ERROR")
        partitions = partitions or 2 * max(1, int(spark.sparkContext.defaultParallelism))
    if partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions))


class SparkEngine:
    name = "spark"

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    @cached_property
    def backend(self) -> SQLBackend:
        backend: SQLBackend = ibis.pyspark.connect(session(self.settings))
        return backend

    def _view(self, name: str, paths: list[str]) -> ir.Table:
        """A temporary view over the Parquet ``paths``. Local files (the store's segments, a
        local ledger) are read once while unchanged: the view is named after their paths,
        sizes and times, so a report that asks for the log many times pays Spark's file
        listing and schema read (a job each) once; other filesystems are read every time."""
        spark = session(self.settings)
        stamp = _local_stamp(paths)
        if stamp is not None:
            digest = hashlib.sha1(repr(stamp).encode()).hexdigest()[:16]
            name = f"{name}_{digest}"
            with _lock:
                if (id(spark), name) not in _views:
                    spark.read.parquet(*paths).createOrReplaceTempView(name)
                    _views.add((id(spark), name))
            return self.backend.table(name)
        spark.read.parquet(*paths).createOrReplaceTempView(name)
        return self.backend.table(name)

    def events(self, manifest: dict[str, Any]) -> ir.Table:
        """The event log as a Spark view: ``spark_events``, else the store's segments."""
        if self.settings.spark_events:
            return self._view("cx_events_ext", [self.settings.spark_events])
        assert isinstance(self.ctx.log, EventLog)
        paths = [str(p.resolve()) for p in self.ctx.log.segment_paths(manifest)]
        name = f"cx_events_v{int(manifest['version'])}"
        if not paths:  # an empty log: an empty, typed view
            types = {"string": "STRING", "timestamp": "TIMESTAMP_NTZ", "float64": "DOUBLE"}
            cols = ", ".join(
                f"CAST(NULL AS {types.get(c.dtype, 'BIGINT')}) AS {c.name}" for c in LOG_COLUMNS
            )
            session(self.settings).sql(f"SELECT {cols} WHERE false").createOrReplaceTempView(name)
            return self.backend.table(name)
        return self._view(name, paths)

    def cache(self, expr: ir.Table) -> ir.Table:
        return expr.cache()

    @property
    def output_dir(self) -> str:
        return self.settings.spark_output or str((self.ctx.home / "ledger").resolve())

    def _target(self, name: str) -> str:
        return self.output_dir.rstrip("/") + "/" + name

    def save(self, expr: ir.Table, name: str) -> int:
        """Write ``expr`` as Parquet directory ``name`` under ``spark_output``; its row count."""
        target = self._target(name)
        spark = session(self.settings)
        spark.sql(str(self.backend.compile(expr))).write.mode("overwrite").parquet(target)
        return int(spark.read.parquet(target).count())

    def saved(self, name: str) -> ir.Table:
        stem = name.removesuffix(".parquet")
        view = "cx_ledger_" + "".join(c if c.isalnum() else "_" for c in stem)
        return self._view(view, [self._target(name)])

    def drop_saved(self, keep: set[str]) -> None:
        """Delete earlier ledgers under a local ``spark_output`` (other filesystems: left to
        their own lifecycle rules)."""
        root = self.output_dir
        if "://" in root and not root.startswith("file://"):
            return
        for path in Path(root.removeprefix("file://")).glob("promises-*.parquet"):
            if path.name not in keep:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def refuse_writes(self, what: str) -> None:
        """With ``spark_events`` Spark analyses an external Parquet export, not the store's
        own segments: writes to the store would not be seen."""
        if self.settings.spark_events:
            raise Unsupported(
                f"{what}: engine=spark with spark_events reads the external Parquet log at "
                f"{self.settings.spark_events}, which cxloop does not write; {what} into the "
                "store that export came from (without CXLOOP_SPARK_EVENTS), then export again"
            )

    def close(self) -> None:
        self.__dict__.pop("backend", None)  # the session stays: one per process
