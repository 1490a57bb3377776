"""Keeping the store in the library: export and import of the event log, compaction, and
corrections (reverting a load, forgetting a customer). Each returns its record as a dict
(what ``--format json`` writes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxloop.services.log.corrections import Operator
    from cxloop.workspace.workspace import Workspace


class UpkeepMixin:
    """The store-keeping methods of :class:`cxloop.Cxloop`."""

    workspace: Workspace

    def export_log(self, target: str | Path, fmt: str = "parquet") -> dict[str, Any]:
        """Write the event log to directory ``target`` (the events and a manifest with
        their checksum): rows, path, bytes, checksum, seconds."""
        from cxloop.services.log import transfer

        return transfer.export_log(self.workspace, Path(target), fmt)

    def import_log(self, source: str | Path) -> dict[str, Any]:
        """Append an export's events to this store, verified before and after."""
        from cxloop.services.log import transfer

        return transfer.import_log(self.workspace, Path(source))

    def compact(self) -> dict[str, Any]:
        """Rewrite the event log as one segment (same rows)."""
        from cxloop.services.log import ingest as ingest_service

        return ingest_service.compact(self.workspace)

    def load_runs(self) -> list[dict[str, Any]]:
        """Every ingest run, oldest first, with its retraction (or None)."""
        from cxloop.services.log import corrections

        return corrections.runs(self.workspace)

    def revert_ingest(self, ingest_id: str, operator: Operator) -> dict[str, Any]:
        """Take the events of ingest run ``ingest_id`` out of the log (audited)."""
        from cxloop.services.log import corrections

        return corrections.revert_ingest(self.workspace, ingest_id, operator)

    def forget(self, customer_id: str, operator: Operator) -> dict[str, Any]:
        """Erase ``customer_id``'s personal data from the store (the erasure record)."""
        from cxloop.services.log import corrections

        return corrections.forget(self.workspace, customer_id, operator)
