"""Point reads on the embedded store: one customer's rows without scanning the log.

The log's segments are sorted by event type first (what the analytics want), so one
customer's events are spread over every row group of a segment. Beside each segment file,
``events/bycustomer/<segment>`` holds a copy of the columns a timeline shows, sorted by
customer and time, in row groups of :data:`ROW_GROUP` rows; the Parquet statistics of its
``customer_id`` column (each row group's first and last customer) are the index. A read
finds the one or two row groups that may hold the customer by binary search and reads
only them (a few milliseconds whatever the size of the log). The promise ledger gets the
same kind of copy (``ledger/bycustomer/<ledger file>``) when it is built.

The copies are derived data: :func:`refresh` writes the missing ones after every change
of the segments (ingest, import, compaction, revert, forget) and deletes those whose
segment left the manifest (an erased person's rows go with their segment). A reader
takes the copy where it exists and scans the segment itself where not (a store written
by an older version, a writer killed between its commit and the copy), so answers never
depend on the copies being there.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxloop.store.ahead import ahead
from cxloop.store.files import fsync_dir, fsync_file

INDEX_DIR = "bycustomer"
#: rows per row group of a copy: what one point read decompresses. 1,024 rows read in
#: 1.1-1.4 ms of CPU where 4,096 took 2.6 (docs/benchmarks.md); writing the copy costs
#: about 0.5 CPU-s more per million events. Copies written with another size still read.
ROW_GROUP = 1024
KEY = "customer_id"
#: the columns of the log's copies (what a timeline shows, and the key)
EVENT_COLUMNS = (
    "customer_id",
    "ts",
    "department",
    "event_type",
    "channel",
    "ref",
    "amount",
    "due_at",
    "attrs",
    "event_id",
    "source",
)
EVENT_ORDER = "customer_id, ts, event_id"
#: the columns a copy dictionary-encodes (few values a row group); the others (ids, times,
#: JSON) are written plain: the dictionary pass over them cost a quarter of the copy's
#: write time and made the file larger
DICTIONARY_COLUMNS = frozenset(
    {KEY, "department", "event_type", "channel", "source", "rule", "state", "kind"}
)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def copy_path(path: Path) -> Path:
    """Where the customer-sorted copy of Parquet file ``path`` lives."""
    return path.parent / INDEX_DIR / path.name


def write_copy(
    con: duckdb.DuckDBPyConnection, path: Path, columns: Sequence[str], order: str
) -> Path:
    """Write the copy of ``path`` (``columns``, sorted by ``order``; key first), streamed
    from DuckDB in batches, fsynced and renamed into place. Returns its path."""
    dest = copy_path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".tmp-{dest.name}"
    cols = ", ".join(columns)
    reader = con.execute(
        f"SELECT {cols} FROM read_parquet({_quote(path)}) ORDER BY {order}"
    ).fetch_record_batch(64 * ROW_GROUP)
    # statistics on the key alone: they are the index (the readers use no others)
    writer = pq.ParquetWriter(
        tmp,
        reader.schema,
        compression="zstd",
        write_statistics=[KEY],
        use_dictionary=[c for c in reader.schema.names if c in DICTIONARY_COLUMNS],
    )
    try:
        # DuckDB fetches the next batches while pyarrow writes (10 M rows: 16.0 -> 14.2 s)
        for batch in ahead(reader, 2, "cxloop-copy-fetch"):
            writer.write_batch(batch, row_group_size=ROW_GROUP)
    finally:
        writer.close()
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


class _Keyed:
    """A copy's footer and the first and last key of each of its row groups."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.metadata = pq.read_metadata(path)
        col = self.metadata.schema.names.index(KEY)
        self.first: list[str] = []
        self.last: list[str] = []
        for i in range(self.metadata.num_row_groups):
            stats = self.metadata.row_group(i).column(col).statistics
            if stats is None or not stats.has_min_max:
                raise ValueError(f"{path}: row group {i} has no statistics on {KEY}")
            self.first.append(stats.min)
            self.last.append(stats.max)

    def groups(self, key: str) -> range:
        """The row groups that may hold ``key``."""
        return range(bisect.bisect_left(self.last, key), bisect.bisect_right(self.first, key))

    def read(self, key: str, groups: range | None = None) -> pa.Table:
        # a ParquetFile of its own per read (threads), with the footer already parsed; no
        # decoding threads for a read of a few row groups (a server runs many reads at once)
        table = pq.ParquetFile(self.path, metadata=self.metadata).read_row_groups(
            list(self.groups(key) if groups is None else groups), use_threads=False
        )
        return table.filter(pc.equal(table[KEY], key))


_OPEN: OrderedDict[Path, _Keyed] = OrderedDict()
_OPEN_GUARD = threading.Lock()
_OPEN_MAX = 64


def _keyed(path: Path) -> _Keyed:
    """The parsed footer of copy ``path`` (files never change once written: cached)."""
    with _OPEN_GUARD:
        found = _OPEN.get(path)
        if found is not None:
            _OPEN.move_to_end(path)
            return found
    found = _Keyed(path)
    with _OPEN_GUARD:
        _OPEN[path] = found
        while len(_OPEN) > _OPEN_MAX:
            _OPEN.popitem(last=False)
    return found


def read_key_small(
    files: Sequence[Path], columns: Sequence[str] | None, key: str, max_groups: int
) -> pa.Table | None:
    """:func:`read_key` where every file has its copy, its footer already parsed by an
    earlier read, and the customer's rows lie in at most ``max_groups`` row groups of them
    in all (a read of a few milliseconds, which a server may run without handing it to a
    thread); None otherwise."""
    found: list[tuple[_Keyed, range]] = []
    for path in files:
        with _OPEN_GUARD:  # a footer not parsed yet (7 MiB at 10 M events): not small
            keyed = _OPEN.get(copy_path(path))
        if keyed is None:
            return None
        found.append((keyed, keyed.groups(key)))
    if not found or sum(len(groups) for _, groups in found) > max_groups:
        return None
    parts: list[pa.Table] = []
    for keyed, groups in found:
        try:
            part = keyed.read(key, groups)
        except OSError:  # the copy went with its segment since: the full read answers
            return None
        parts.append(part if columns is None else part.select(list(columns)))
    schema = parts[0].schema
    return pa.concat_tables([p.cast(schema) for p in parts])


def read_key(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    columns: Sequence[str] | None,
    key: str,
) -> pa.Table:
    """The rows of ``files`` (at least one) whose customer is ``key`` (``columns``, in
    no order; None: all); from each file's copy where there is one, else from the file."""
    parts: list[pa.Table] = []
    unindexed: list[Path] = []
    for path in files:
        copy = copy_path(path)
        try:
            found = _keyed(copy).read(key)
            parts.append(found if columns is None else found.select(list(columns)))
        except (OSError, ValueError):  # no copy (yet), or it went with its segment
            unindexed.append(path)
    if unindexed:
        listed = ", ".join(_quote(p) for p in unindexed)
        cols = "*" if columns is None else ", ".join(columns)
        scanned = con.execute(
            f"SELECT {cols} FROM read_parquet([{listed}]) WHERE {KEY} = ?", [key]
        ).arrow()
        parts.append(scanned.read_all() if isinstance(scanned, pa.RecordBatchReader) else scanned)
    schema = parts[0].schema
    return pa.concat_tables([p.cast(schema) for p in parts])


def refresh_dir(con: duckdb.DuckDBPyConnection, files: Sequence[Path], root: Path) -> list[str]:
    """Write the missing copies of ``files`` (all in ``root``) and delete the copies in
    ``root/bycustomer`` of any other file; returns the names written."""
    written = []
    wanted = {p.name for p in files}
    for path in files:
        if not copy_path(path).exists() and path.exists():
            write_copy(con, path, EVENT_COLUMNS, EVENT_ORDER)
            written.append(path.name)
    forget_others(root, wanted)
    return written


def forget_others(root: Path, wanted: set[str]) -> None:
    """Delete the copies (and left temporary files) in ``root/bycustomer`` but ``wanted``."""
    folder = root / INDEX_DIR
    if not folder.exists():
        return
    for copy in folder.iterdir():
        if copy.name not in wanted:
            copy.unlink(missing_ok=True)
            with _OPEN_GUARD:
                _OPEN.pop(copy, None)


def refresh(log: Any, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """The one hook for writers: call after the segments changed (append, compaction,
    rewrite), under the write lock. A no-op for a log without segment files (PostgreSQL
    keeps an index on ``cx_events (customer_id, ts)`` instead)."""
    if getattr(log, "backend", None) != "parquet":
        return []
    own = con is None
    cx = duckdb.connect() if con is None else con
    try:
        return refresh_dir(cx, log.segment_paths(), log.root)
    finally:
        if own:
            cx.close()


def info(files: Sequence[Path]) -> dict[str, Any]:
    """How many of ``files`` have their copy, and the copies' bytes."""
    copies = [copy_path(p) for p in files]
    present = [c for c in copies if c.exists()]
    return {
        "segments": len(files),
        "indexed": len(present),
        "bytes": sum(c.stat().st_size for c in present),
    }
