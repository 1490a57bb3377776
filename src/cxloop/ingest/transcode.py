"""Text in another encoding than UTF-8, copied as UTF-8 into the store's tmp/ for DuckDB
(which reads UTF-8, UTF-16 and Latin-1 only: Windows-1252 text, with its € and curly
quotes, is not Latin-1). The copy streams in blocks, in bounded memory."""

from __future__ import annotations

import codecs
import tempfile
import uuid
from pathlib import Path

import duckdb

from cxloop.errors import InputError

BLOCK = 1 << 20
#: The encodings a mapping may declare (``iso-8859-1`` is ``latin-1``).
ENCODINGS = ("utf-8", "utf-16", "latin-1", "iso-8859-1", "cp1252")


def tmp_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """The store's tmp/ (DuckDB's spill folder); the system's where it is not set."""
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    folder = Path(str(row[0])) if row and row[0] else Path()
    if not folder.is_absolute():
        folder = Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fail(path: Path, encoding: str, line: int, byte: int) -> InputError:
    return InputError(
        f"{path}: line {line}: byte 0x{byte:02x} is not {encoding} text; declare the file's "
        "real encoding (encoding = ...), nothing was loaded"
    )


def to_utf8(con: duckdb.DuckDBPyConnection, path: Path, encoding: str) -> Path:
    """A UTF-8 copy of ``path`` (text in ``encoding``) in the store's tmp/; the caller
    deletes it. A byte the encoding has no character for refuses the file, its line named."""
    out = tmp_dir(con) / f"cxloop-utf8-{uuid.uuid4().hex[:8]}{path.suffix}"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = 1
    try:
        with path.open("rb") as src, out.open("wb") as dst:
            while block := src.read(BLOCK):
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as exc:
                    at = lines + block.count(b"\n", 0, max(exc.start, 0))
                    bad = exc.object[exc.start] if exc.start < len(exc.object) else 0
                    raise _fail(path, encoding, at, bad) from None
                lines += block.count(b"\n")
                dst.write(text.encode("utf-8"))
            tail = decoder.decode(b"", final=True)
            dst.write(tail.encode("utf-8"))
    except UnicodeDecodeError as exc:
        out.unlink(missing_ok=True)
        raise InputError(f"{path}: not {encoding} text ({exc.reason} at the end)") from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out
