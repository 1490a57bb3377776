"""The Spark engine (``engine = "spark"``): the same Ibis analytics on a Spark session.

Spark reads the event log as Parquet: the segments of the store in ``home`` (what the
embedded store writes), or ``spark_events`` (a directory such as the ``events.parquet``
of ``cxloop export``, on any filesystem Spark can read: ``s3a://``, ``abfss://``,
``hdfs://``). Results (the ledger) are written back as Parquet directories under
``spark_output`` (default ``home/ledger``), which every executor must be able to reach.

One session per process, created on first use: ``spark_remote`` (a Spark Connect URL)
when set, else ``spark_master`` (``local[2]`` by default). Timestamps are read and written
without a time zone (``TIMESTAMP_NTZ``, microseconds), as cxloop stores them (UTC), and
the session's time zone is UTC.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from cxloop.errors import ConfigError
from cxloop.settings import Settings

if TYPE_CHECKING:
    from ibis.backends.sql import SQLBackend

    from cxloop.services.workspace import Workspace

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
_sessions: dict[tuple[str, str], Any] = {}


def session(settings: Settings) -> Any:
    """The process's Spark session for these settings (started once; a few seconds)."""
    key = (settings.spark_remote, settings.spark_master)
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
                .config("spark.sql.shuffle.partitions", "8")
                .config("spark.ui.showConsoleProgress", "false")
            )
        spark = (
            builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .getOrCreate()
        )
        if not settings.spark_remote:
            spark.sparkContext.setLogLevel("ERROR")
        for statement in SPARK_FUNCTIONS:
            spark.sql(statement)
        _sessions[key] = spark
        return spark


def spark_backend(settings: Settings) -> SQLBackend:
    backend: SQLBackend = ibis.pyspark.connect(session(settings))
    return backend


def _view(ws: Workspace, name: str, paths: list[str]) -> ir.Table:
    spark = session(ws.settings)
    spark.read.parquet(*paths).createOrReplaceTempView(name)
    return ws.ibis.table(name)


def events_view(ws: Workspace, manifest: dict[str, Any]) -> ir.Table:
    """The event log as a Spark view: ``spark_events``, else the store's segments."""
    if ws.settings.spark_events:
        return _view(ws, "cx_events_ext", [ws.settings.spark_events])
    from cxloop.store.eventlog import EventLog

    assert isinstance(ws.log, EventLog)
    paths = [str(p.resolve()) for p in ws.log.segment_paths(manifest)]
    name = f"cx_events_v{int(manifest['version'])}"
    if not paths:  # an empty log: an empty, typed view
        from cxloop.domain.events import LOG_COLUMNS

        types = {"string": "STRING", "timestamp": "TIMESTAMP_NTZ", "float64": "DOUBLE"}
        cols = ", ".join(
            f"CAST(NULL AS {types.get(c.dtype, 'BIGINT')}) AS {c.name}" for c in LOG_COLUMNS
        )
        session(ws.settings).sql(f"SELECT {cols} WHERE false").createOrReplaceTempView(name)
        return ws.ibis.table(name)
    return _view(ws, name, paths)


def output_dir(ws: Workspace) -> str:
    return ws.settings.spark_output or str((ws.home / "ledger").resolve())


def _target(ws: Workspace, name: str) -> str:
    return output_dir(ws).rstrip("/") + "/" + name


def save_parquet(ws: Workspace, expr: ir.Table, name: str) -> int:
    """Write ``expr`` as Parquet directory ``name`` under ``spark_output``; its row count."""
    target = _target(ws, name)
    spark = session(ws.settings)
    spark.sql(str(ws.ibis.compile(expr))).write.mode("overwrite").parquet(target)
    return int(spark.read.parquet(target).count())


def parquet_view(ws: Workspace, name: str) -> ir.Table:
    view = "cx_ledger_" + "".join(c if c.isalnum() else "_" for c in name.removesuffix(".parquet"))
    return _view(ws, view, [_target(ws, name)])


def drop_outputs(ws: Workspace, keep: set[str]) -> None:
    """Delete earlier ledgers under a local ``spark_output`` (other filesystems: left to
    their own lifecycle rules)."""
    root = output_dir(ws)
    if "://" in root and not root.startswith("file://"):
        return
    for path in Path(root.removeprefix("file://")).glob("promises-*.parquet"):
        if path.name not in keep:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
