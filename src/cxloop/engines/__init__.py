"""The engines the analytics run on, behind one protocol (:class:`~cxloop.engines.base.Engine`).

Adding an engine is one module here with one class, one entry in :data:`ENGINES`, and one
entry in the contract suite's list (``tests/test_backends.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from cxloop.engines.base import Engine, EngineContext
from cxloop.engines.duckdb import DuckDBEngine
from cxloop.engines.postgres import PostgresEngine
from cxloop.errors import ConfigError

__all__ = ["ENGINES", "DuckDBEngine", "Engine", "EngineContext", "PostgresEngine", "open_engine"]


def _spark(ctx: EngineContext) -> Engine:
    from cxloop.engines.spark import SparkEngine  # pyspark is imported only when chosen

    return SparkEngine(ctx)


ENGINES: dict[str, Callable[[EngineContext], Engine]] = {
    "duckdb": DuckDBEngine,
    "postgres": PostgresEngine,
    "spark": _spark,
}


def open_engine(name: str, ctx: EngineContext) -> Engine:
    """The engine ``name`` for a workspace (not connected until first used)."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ConfigError(f"unknown engine {name!r} (expected {', '.join(ENGINES)})") from None
    return factory(ctx)
