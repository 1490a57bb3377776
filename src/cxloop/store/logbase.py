"""What every event log offers (the Parquet segments of the embedded store, PostgreSQL's
``cx_events``): the protocol the workspace, ingest and the engines program against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import duckdb

    from cxloop.store.eventlog import AppendResult, BeforeCommit


class EventStore(Protocol):
    @property
    def version(self) -> int:
        """Bumped by every append or compaction (what derived results are keyed by)."""
        ...

    def manifest(self) -> dict[str, Any]:
        """The log's current state (version, segments or row counts)."""
        ...

    def needs_compaction(self, limit: int) -> bool: ...

    def append(
        self,
        con: duckdb.DuckDBPyConnection,
        staged: str,
        ingest_id: str,
        before_commit: BeforeCommit | None = None,
    ) -> AppendResult:
        """Append the rows of DuckDB relation ``staged``; idempotent by ``event_id``."""
        ...

    def relation(
        self, con: duckdb.DuckDBPyConnection, manifest: dict[str, Any] | None = None
    ) -> str:
        """The log's rows (as of ``manifest``) readable on DuckDB connection ``con``."""
        ...

    def committed(self, ingest_id: str) -> bool:
        """Whether an ingest run's rows are in the log (crash recovery asks)."""
        ...

    def clean_temp(self) -> list[str]:
        """Remove what a crashed writer left half-written; what was removed."""
        ...

    def compact(self, con: duckdb.DuckDBPyConnection, stamp: str) -> dict[str, Any]: ...
