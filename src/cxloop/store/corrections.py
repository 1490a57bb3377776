"""The operational state's side of corrections: retracted ingest runs and erasures.

A retraction marks the run ``retracted`` (so the same file contents are read again when
loaded again), marks its quarantine rows (``retracted_at``), moves its file loads into the
retraction record (the files no longer count as loaded) and records who retracted it,
when, and how many events went: in ``retractions`` and the audit log, both append-only.

An erasure takes a person out of the state: their signals and notices (with addresses)
are deleted, their cases keep their figures but not their customer id (replaced by
``erased-<erasure id>``) nor the resolution text, notes on approvals of their cases are
cleared, audit entries of their cases (and any other that names them) keep time, actor,
action, case and amount but their ``detail`` becomes ``{"erased": "<erasure id>"}`` (the
one update the audit's trigger allows, for a recorded erasure), quarantined rows that
name them are deleted. The erasure record holds a random id, who, when and counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from cxloop.store.db import Connection
from cxloop.store.state import StateDB

_CHUNK = 500


def mentions(tokens: Iterable[str]) -> re.Pattern[str]:
    """A pattern that finds any of ``tokens`` as a whole value (not inside a longer id);
    ids as written, e-mail addresses in any case."""
    alts = "|".join(
        f"(?i:{re.escape(t)})" if "@" in t else re.escape(t)
        for t in sorted(set(tokens), key=len, reverse=True)
        if t
    )
    return re.compile(rf"(?<![\w.@+-])(?:{alts})(?![\w@-])")


def run_of(state: StateDB, ingest_id: str) -> dict[str, Any] | None:
    with state.connect() as con:
        row = con.execute("SELECT * FROM ingest_runs WHERE ingest_id = ?", (ingest_id,)).fetchone()
    return dict(row) if row else None


def retraction_of(state: StateDB, ingest_id: str) -> dict[str, Any] | None:
    with state.connect() as con:
        row = con.execute("SELECT * FROM retractions WHERE ingest_id = ?", (ingest_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["files"] = json.loads(out["files"])
    return out


def retractions(state: StateDB) -> dict[str, dict[str, Any]]:
    """Every retraction by ingest id."""
    with state.connect() as con:
        rows = con.execute("SELECT * FROM retractions ORDER BY at").fetchall()
    return {r["ingest_id"]: {**dict(r), "files": json.loads(r["files"])} for r in rows}


def record_retraction(state: StateDB, ingest_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Mark run ``ingest_id`` retracted (``entry``: at, actor, role, events, log_version)."""
    with state.connect() as con:
        files = [
            {"file": r["file"], "file_sha256": r["file_sha256"], "loaded_at": r["loaded_at"]}
            for r in con.execute(
                "SELECT * FROM file_loads WHERE ingest_id = ? ORDER BY file", (ingest_id,)
            )
        ]
        marked = con.execute(
            "UPDATE quarantine SET retracted_at = ? WHERE retracted_at IS NULL AND "
            "(ingest_id = ? OR reason LIKE ?)",  # its rows, and conflicts with its events
            (entry["at"], ingest_id, f"%(loaded by ingest {ingest_id})%"),
        ).rowcount
        con.execute("DELETE FROM file_loads WHERE ingest_id = ?", (ingest_id,))
        con.execute("UPDATE ingest_runs SET status = 'retracted' WHERE ingest_id = ?", (ingest_id,))
        row = {**entry, "ingest_id": ingest_id, "quarantine_rows": marked}
        con.execute(
            "INSERT INTO retractions (ingest_id, at, actor, role, events, quarantine_rows, "
            "log_version, files) VALUES (:ingest_id, :at, :actor, :role, :events, "
            ":quarantine_rows, :log_version, :files)",
            {**row, "files": json.dumps(files)},
        )
        _audit(con, entry, "ingest_revert", {**row, "files": [f["file"] for f in files]})
    return {**row, "files": files}


def _audit(con: Connection, entry: dict[str, Any], action: str, detail: Any) -> None:
    con.execute(
        "INSERT INTO audit (at, actor, role, action, detail) VALUES (?, ?, ?, ?, ?)",
        (
            entry["at"],
            entry["actor"],
            entry["role"],
            action,
            json.dumps(detail, default=str, sort_keys=True),
        ),
    )


# ------------------------------------------------------------------ erasure


def _ids(con: Connection, sql: str, args: Iterable[Any]) -> list[Any]:
    return [r[0] for r in con.execute(sql, list(args)).fetchall()]


def _in(ids: list[Any]) -> list[tuple[str, list[Any]]]:
    """``IN (?, ...)`` lists of at most _CHUNK ids."""
    return [
        (", ".join("?" for _ in part), part)
        for part in (ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK))
    ]


def _naming(
    con: Connection, table: str, key: str, columns: tuple[str, ...], tokens: list[str]
) -> list[Any]:
    """Keys of the rows of ``table`` where a column names one of ``tokens``."""
    pattern = mentions(tokens)
    like = " OR ".join(f"lower(CAST({c} AS TEXT)) LIKE ?" for c in columns for _ in tokens)
    args = [f"%{t.lower()}%" for _ in columns for t in tokens]
    rows = con.execute(f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {like}", args)
    return [r[0] for r in rows if any(pattern.search(str(v or "")) for v in list(r)[1:])]


def erase_person(
    state: StateDB, customer_id: str, tokens: list[str], entry: dict[str, Any]
) -> dict[str, int]:
    """Take the person out of the state (see the module docstring) in one transaction.

    ``tokens``: the customer id and their addresses; ``entry``: erasure_id, at, actor, role.
    Returns the counts recorded in the erasure (no personal data)."""
    tokens = [t for t in dict.fromkeys(tokens) if t]
    eid = entry["erasure_id"]
    with state.connect() as con:
        if con.dialect == "sqlite":
            con.execute("PRAGMA secure_delete = ON")
        rows = _targets(con, customer_id, tokens)
        counts = {
            "cases": len(rows["cases"]),
            "audit_entries": len(rows["audit"]),
            "quarantine_rows": len(rows["quarantine"]),
            **_delete_counts(con, customer_id),
            **entry.get("log", {}),
        }
        con.execute(
            "INSERT INTO erasures (erasure_id, at, actor, role, counts) VALUES (?, ?, ?, ?, ?)",
            (eid, entry["at"], entry["actor"], entry["role"], json.dumps(counts, sort_keys=True)),
        )
        _erase(con, customer_id, eid, rows)
        _audit(con, entry, "forget", {"erasure_id": eid, **counts})
    return counts


def _targets(con: Connection, customer_id: str, tokens: list[str]) -> dict[str, list[Any]]:
    """The keys of the rows to redact or delete: the person's cases, the audit entries of
    those cases or naming the person (not yet redacted), approvals of those cases or naming
    the person, quarantine rows naming the person."""
    cases = _ids(con, "SELECT case_id FROM cases WHERE customer_id = ?", [customer_id])
    audit = set(_naming(con, "audit", "audit_id", ("detail",), tokens))
    approvals = set(_naming(con, "approvals", "approval_id", ("note",), tokens))
    for marks, part in _in(cases):
        audit |= set(_ids(con, f"SELECT audit_id FROM audit WHERE case_id IN ({marks})", part))
        approvals |= set(
            _ids(con, f"SELECT approval_id FROM approvals WHERE case_id IN ({marks})", part)
        )
    done = "SELECT audit_id FROM audit WHERE detail LIKE ?"  # by an earlier erasure
    audit -= set(_ids(con, done, ['{"erased": %']))
    return {
        "cases": cases,
        "audit": sorted(audit),
        "approvals": sorted(approvals),
        "quarantine": _naming(con, "quarantine", "id", ("value", "record"), tokens),
    }


def _erase(con: Connection, customer_id: str, eid: str, rows: dict[str, list[Any]]) -> None:
    erased = json.dumps({"erased": eid})
    for marks, part in _in(rows["audit"]):
        con.execute(f"UPDATE audit SET detail = ? WHERE audit_id IN ({marks})", [erased, *part])
    for marks, part in _in(rows["approvals"]):
        con.execute(f"UPDATE approvals SET note = '' WHERE approval_id IN ({marks})", part)
    for marks, part in _in(rows["quarantine"]):
        con.execute(f"DELETE FROM quarantine WHERE id IN ({marks})", part)
    con.execute(
        "UPDATE cases SET customer_id = ?, resolution = CASE WHEN resolution IS NULL "
        "THEN NULL ELSE '' END WHERE customer_id = ?",
        (f"erased-{eid}", customer_id),
    )
    con.execute("DELETE FROM signals WHERE customer_id = ?", (customer_id,))
    con.execute("DELETE FROM outreach_sends WHERE customer_id = ?", (customer_id,))


def _delete_counts(con: Connection, customer_id: str) -> dict[str, int]:
    out = {}
    for table, name in (("signals", "signals"), ("outreach_sends", "notices")):
        row = con.execute(
            f"SELECT count(*) FROM {table} WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        out[name] = int(row[0]) if row else 0
    return out


def addresses(state: StateDB, customer_id: str) -> list[str]:
    """The addresses notices to the customer went to."""
    with state.connect() as con:
        return _ids(
            con, "SELECT DISTINCT address FROM outreach_sends WHERE customer_id = ?", [customer_id]
        )


def leftovers(state: StateDB, tokens: list[str]) -> list[str]:
    """``table.column`` of every state value that still names one of ``tokens``."""
    tokens = [t for t in dict.fromkeys(tokens) if t]
    found = []
    with state.connect() as con:
        for table in _tables(con):
            for col in _columns(con, table):
                if _naming(con, table, col, (col,), tokens):
                    found.append(f"{table}.{col}")
    return found


def _tables(con: Connection) -> list[str]:
    if con.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'cx_%'"
        )
    return sorted(str(r[0]) for r in con.execute(sql).fetchall())


def _columns(con: Connection, table: str) -> list[str]:
    if con.dialect == "sqlite":
        return [str(r["name"]) for r in con.execute(f"PRAGMA table_info({table})").fetchall()]
    return [
        str(r[0])
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ?",
            (table,),
        ).fetchall()
    ]
