"""Look at a text file before it is parsed: refuse what is not text in the format its
name says (compressed, binary, another format), and a CSV header that names a column twice.

A refusal is an :class:`~cxloop.errors.InputError` naming the file and what was found;
nothing of the file is loaded (one bad *row* never refuses a file: see the readers).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cxloop.errors import InputError

SAMPLE = 8192
#: Magic numbers of formats a file named ``.csv`` / ``.jsonl`` sometimes really is.
MAGIC = {
    b"\x1f\x8b": "gzip-compressed data (decompress it first)",
    b"PK\x03\x04": "a ZIP archive (a spreadsheet? export it as CSV)",
    b"PAR1": "Parquet (name it .parquet)",
    b"\xfd7zXZ": "xz-compressed data (decompress it first)",
    b"BZh": "bzip2-compressed data (decompress it first)",
    b"\x28\xb5\x2f\xfd": "zstd-compressed data (decompress it first)",
}
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13))
MESSAGE_CHARS = 300


def short(message: object, limit: int = MESSAGE_CHARS) -> str:
    """The first line of an error message, at most ``limit`` characters."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_text_file(path: Path, fmt: str) -> None:
    """Refuse a file whose first bytes show it is not text (``fmt``: csv or jsonl)."""
    with path.open("rb") as fh:
        head = fh.read(SAMPLE)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{path}: not {fmt.upper()} text but {what}")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: UTF-16 text; save it as UTF-8")
    controls = sum(head.count(bytes([b])) for b in _CONTROL)
    if controls * 10 > len(head):
        raise InputError(
            f"{path}: binary data, not {fmt.upper()} text "
            f"({controls} control bytes in the first {len(head)})"
        )


def check_header(
    path: Path, delim: str, quote: str = '"', skip: int = 0, unique: bool = True
) -> tuple[list[str], str]:
    """The CSV header's column names (the first line after ``skip`` lines) and its line
    ending; refuses a header that names a column twice (the reader would rename one
    silently; ``unique`` False: a first data row). ``quote`` "" reads it unquoted."""
    with path.open("rb") as fh:
        for _ in range(skip):
            fh.readline(1 << 20)
        first = fh.readline(1 << 20)
    newline = "\\r\\n" if first.endswith(b"\r\n") else "\\n"
    line = first.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if unique and quote and line.count(quote) % 2:
        raise InputError(
            f"{path}: a quote in the header never closes ({short(line, 80)}); fix the "
            "header, nothing was loaded"
        )
    try:
        fields = csv.reader(
            io.StringIO(line),
            delimiter=delim,
            quotechar=quote or None,
            quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
        )
        names = next(fields, [])
    except csv.Error:
        return [], newline  # a broken header is reported by the reader itself
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        key = name.strip()
        if unique and key in seen:
            raise InputError(
                f"{path}: column {key!r} appears twice in the header (columns {seen[key]} and "
                f"{i}); rename one, nothing was loaded"
            )
        seen[key] = i
    return [n.strip() or f"column{i}" for i, n in enumerate(names)], newline
