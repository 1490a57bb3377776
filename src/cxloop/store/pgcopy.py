"""Arrow record batches as PostgreSQL's binary ``COPY`` format, without a row loop in Python.

The binary format is, per row, a 16-bit field count and, per field, a 32-bit length (-1
for NULL) followed by the value (big-endian: text as UTF-8, ``timestamp`` as microseconds
since 2000-01-01, ``double precision`` and ``bigint`` as 8 bytes). Every field of a batch
is built column-wise (NumPy for the numbers, Arrow for the text) and the fields of a row
are concatenated by Arrow's ``binary_join_element_wise``, so the bytes of a whole batch
come out of C loops in one buffer. :data:`HEADER` opens a stream, :data:`TRAILER` ends it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
#: microseconds from the Unix epoch to PostgreSQL's (2000-01-01)
_PG_EPOCH_US = 946_684_800_000_000


def _fixed(values: np.ndarray[tuple[int], np.dtype[np.generic]], width: int) -> pa.Array:
    """A binary array of ``width``-byte big-endian values (NumPy array already big-endian)."""
    data = pa.py_buffer(np.ascontiguousarray(values).tobytes())
    return pa.Array.from_buffers(pa.binary(width), len(values), [None, data]).cast(pa.binary())


def _prefix(valid: np.ndarray[tuple[int], np.dtype[np.bool_]], lengths: np.ndarray) -> pa.Array:
    """Each field's 32-bit length (-1 where NULL)."""
    return _fixed(np.where(valid, lengths, -1).astype(">i4"), 4)


def _numbers(column: pa.Array, dtype: str) -> tuple[pa.Array, pa.Array]:
    """The length prefix and the 8-byte value of a timestamp, float64 or int64 column."""
    valid = ~np.asarray(column.is_null(), dtype=bool)
    if dtype == "timestamp":
        raw = column.cast(pa.timestamp("us")).cast(pa.int64()).fill_null(0).to_numpy()
        values: np.ndarray = (raw - _PG_EPOCH_US).astype(">i8")
    elif dtype == "float64":
        values = column.cast(pa.float64()).fill_null(0.0).to_numpy().astype(">f8")
    else:
        values = column.cast(pa.int64()).fill_null(0).to_numpy().astype(">i8")
    payload = pc.if_else(pa.array(valid), _fixed(values, 8), pa.scalar(b"", pa.binary()))
    return _prefix(valid, np.full(len(column), 8, dtype=np.int32)), payload


def _text(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The length prefix and the UTF-8 bytes of a text column."""
    valid = ~np.asarray(column.is_null(), dtype=bool)
    data = column.cast(pa.binary()).fill_null(b"")
    lengths = np.asarray(pc.binary_length(data).to_numpy(zero_copy_only=False), dtype=np.int32)
    return _prefix(valid, lengths), data


def encode(batch: pa.RecordBatch, dtypes: Sequence[str]) -> pa.Buffer:
    """The rows of ``batch`` (columns of ``dtypes``: string, timestamp, float64, int64) in
    PostgreSQL's binary COPY format (without :data:`HEADER` and :data:`TRAILER`)."""
    n = batch.num_rows
    count = np.full(n, len(dtypes), dtype=">i2")
    parts: list[pa.Array] = [_fixed(count, 2)]
    for column, dtype in zip(batch.columns, dtypes, strict=True):
        prefix, payload = _text(column) if dtype == "string" else _numbers(column, dtype)
        parts += [prefix, payload]
    rows = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.binary()))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=n + 1, offset=rows.offset * 4)
    start, end = int(offsets[0]), int(offsets[-1])
    return rows.buffers()[2][start:end]
