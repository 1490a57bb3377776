"""The files side of ``cxloop forget``: the store's own JSON Lines batches, the voice
caches, the ledger, the embedded database's free pages; and the check that nothing in
the store still names the person."""

from __future__ import annotations

import contextlib
import mmap
import sqlite3
from pathlib import Path
from typing import Any

import duckdb

from cxloop.store import corrections as store
from cxloop.store.artifacts import Artifacts
from cxloop.workspace.workspace import Workspace

#: folders under HOME whose JSON Lines files are batches the store wrote and ingested
BATCH_DIRS = ("inbox", "internal")
#: the voice artifact that is a cache by text (pruned); every other one is deleted
EMBEDDINGS = "embeddings"


def scrub_files(ws: Workspace, tokens: list[str], texts: list[str]) -> dict[str, int]:
    """Drop the batch lines that name the person; prune their texts from the embedding
    cache and delete the other voice artifacts (rebuilt when next asked for)."""
    pattern = store.mentions(tokens)
    lines = 0
    for folder in BATCH_DIRS:
        for path in sorted((ws.home / folder).glob("*.jsonl")):
            lines += _drop_lines(path, pattern)
    voice = ws.home / "voice"
    pruned = 0
    for path in sorted(voice.glob("*.pkl")):
        if path.stem == EMBEDDINGS:
            pruned += _prune_embeddings(Artifacts(voice), path, pattern, set(texts))
        else:
            path.unlink(missing_ok=True)
    for tmp in voice.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    return {"batch_lines": lines, "embeddings": pruned}


def _drop_lines(path: Path, pattern: Any) -> int:
    text = path.read_text(encoding="utf-8")
    if not pattern.search(text):
        return 0
    kept = [line for line in text.splitlines(keepends=True) if not pattern.search(line)]
    dropped = text.count("\n") + (not text.endswith("\n")) - len(kept)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    tmp.replace(path)
    return dropped


def _prune_embeddings(artifacts: Artifacts, path: Path, pattern: Any, texts: set[str]) -> int:
    import pickle

    try:
        with path.open("rb") as fh:
            data = pickle.load(fh)
        cache: dict[str, Any] = data["value"]
    except Exception:  # unreadable: it is only a cache
        path.unlink(missing_ok=True)
        return 0
    gone = [t for t in cache if t in texts or pattern.search(t)]
    if gone:
        for t in gone:
            del cache[t]
        artifacts.put(path.stem, data["key"], cache)
    return len(gone)


def after(ws: Workspace) -> None:
    """Rebuild the ledger without the person and drop every older one; compact the
    embedded state file (its free pages and write-ahead log held the deleted rows)."""
    from cxloop.services.promises.ledger import _manifest, build_ledger

    built = _manifest(ws)
    if built.get("file"):
        from datetime import datetime

        fixed = built.get("as_of_mode") == "fixed" and built.get("as_of")
        build = build_ledger(ws, datetime.fromisoformat(str(built["as_of"])) if fixed else None)
        ws.drop_ledgers({Path(build.file).name})
    if ws.state.path is not None:
        _vacuum_sqlite(ws.state.path)
    elif ws.state.url is not None:
        _vacuum_pg(ws.state.url)


def _vacuum_sqlite(path: Path) -> None:
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _vacuum_pg(url: str) -> None:
    import psycopg

    tables = "cx_events, signals, cases, approvals, audit, outreach_sends, quarantine"
    with contextlib.closing(psycopg.connect(url, autocommit=True)) as con:
        con.execute(f"VACUUM {tables}")


def leftovers(ws: Workspace, tokens: list[str]) -> list[str]:
    """Where the store still names one of ``tokens``: log, state, files under HOME."""
    found = [f"state:{where}" for where in store.leftovers(ws.state, tokens)]
    t = ws.events()
    cond = t.customer_id.isin(tokens)
    for tok in tokens:
        cond |= t.attrs.contains(tok)
    if int(t.filter(cond).count().execute()):
        found.append("event log")
    pattern = store.mentions(tokens)
    needles = [tok.encode() for tok in tokens]
    for path in sorted(p for p in ws.home.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            continue  # the log and the ledger are checked by query
        if _holds(path, needles) and pattern.search(path.read_bytes().decode("utf-8", "replace")):
            found.append(str(path.relative_to(ws.home)))
    found += _tabular_leftovers(ws, tokens)
    return found


def _holds(path: Path, needles: list[bytes]) -> bool:
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return any(mm.find(n) >= 0 for n in needles)


def _tabular_leftovers(ws: Workspace, tokens: list[str]) -> list[str]:
    """PostgreSQL ledger tables, and every Parquet file under HOME (log segments, ledgers,
    exports written there) with a ``customer_id`` column, that hold one of ``tokens``."""
    out = []
    if ws.engine == "postgres":
        for name in ws.ibis.list_tables(like="cx_ledger_"):
            t = ws.ibis.table(name)
            if int(t.filter(t.customer_id.isin(tokens)).count().execute()):
                out.append(f"table {name}")
    ids = ", ".join("'" + t.replace("'", "''") + "'" for t in tokens)
    with contextlib.closing(duckdb.connect()) as con:
        for path in sorted(p for p in ws.home.rglob("*.parquet") if p.is_file()):
            source = "read_parquet('" + str(path).replace("'", "''") + "')"
            if "customer_id" not in {
                r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            }:
                continue
            (n,) = con.execute(
                f"SELECT count(*) FROM {source} WHERE customer_id IN ({ids})"
            ).fetchone() or (0,)
            if n:
                out.append(str(path.relative_to(ws.home)))
    return out
