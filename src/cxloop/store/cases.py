"""Operational state of recovery: signals, cases, approvals and the audit log.

Tables live in the store's SQLite file (WAL) beside the ingest runs. The audit
log is append-only: triggers refuse every UPDATE and DELETE on it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from cxloop.store.state import StateDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (
    signal_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    ts TEXT NOT NULL,
    department TEXT NOT NULL,
    severity TEXT NOT NULL,
    detail TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    facts TEXT NOT NULL,
    case_id TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_case ON signals (case_id);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    department TEXT NOT NULL,
    owner TEXT,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    sla_due_at TEXT NOT NULL,
    started_at TEXT,
    resolved_at TEXT,
    resolution TEXT,
    contacts INTEGER,
    follow_up_due_at TEXT,
    followed_up_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_key ON cases (customer_id, subject);
CREATE TABLE IF NOT EXISTS approvals (
    approval_id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    remedy TEXT NOT NULL,
    amount REAL NOT NULL,
    requested_by TEXT NOT NULL,
    requested_role TEXT NOT NULL,
    needs_role TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    note TEXT,
    decision TEXT,
    decided_by TEXT,
    decided_role TEXT,
    decided_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    case_id TEXT,
    remedy TEXT,
    amount REAL,
    policy_version TEXT,
    detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

CASE_FIELDS = (
    "case_id",
    "customer_id",
    "subject",
    "department",
    "owner",
    "severity",
    "state",
    "opened_at",
    "sla_due_at",
    "started_at",
    "resolved_at",
    "resolution",
    "contacts",
    "follow_up_due_at",
    "followed_up_at",
    "updated_at",
)


class CaseStore:
    """Reads and writes of the recovery tables; callers decide, this stores."""

    def __init__(self, state: StateDB) -> None:
        self.state = state
        with state.connect() as con:
            con.executescript(SCHEMA)

    # ------------------------------------------------------------ signals
    def new_signals(self, signal_ids: Iterable[str]) -> set[str]:
        """Which of these signal ids are not stored yet."""
        ids = list(signal_ids)
        with self.state.connect() as con:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (id TEXT PRIMARY KEY)")
            con.execute("DELETE FROM wanted")
            con.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(i,) for i in ids])
            known = {
                r[0]
                for r in con.execute(
                    "SELECT w.id FROM wanted w JOIN signals s ON s.signal_id = w.id"
                )
            }
        return set(ids) - known

    def add_signals(self, con: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        con.executemany(
            "INSERT OR IGNORE INTO signals (signal_id, kind, customer_id, subject, ts, "
            "department, severity, detail, source_ref, facts, case_id, recorded_at) VALUES "
            "(:signal_id, :kind, :customer_id, :subject, :ts, :department, :severity, :detail, "
            ":source_ref, :facts, :case_id, :recorded_at)",
            [{**r, "facts": json.dumps(r["facts"], default=str)} for r in rows],
        )

    def signals(self, case_id: str) -> list[dict[str, Any]]:
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT * FROM signals WHERE case_id = ? ORDER BY ts, signal_id", (case_id,)
            ).fetchall()
        return [{**dict(r), "facts": json.loads(r["facts"])} for r in rows]

    # ------------------------------------------------------------ cases
    def latest_case(self, con: sqlite3.Connection, customer_id: str, subject: str) -> Any:
        return con.execute(
            "SELECT * FROM cases WHERE customer_id = ? AND subject = ? "
            "ORDER BY opened_at DESC, case_id DESC LIMIT 1",
            (customer_id, subject),
        ).fetchone()

    def next_case_id(self, con: sqlite3.Connection) -> str:
        row = con.execute("SELECT max(CAST(substr(case_id, 4) AS INTEGER)) FROM cases").fetchone()
        return f"CS-{(row[0] or 0) + 1:06d}"

    def insert_case(self, con: sqlite3.Connection, case: dict[str, Any]) -> None:
        cols = ", ".join(CASE_FIELDS)
        marks = ", ".join(":" + f for f in CASE_FIELDS)
        con.execute(f"INSERT INTO cases ({cols}) VALUES ({marks})", case)

    def update_case(self, con: sqlite3.Connection, case_id: str, **values: Any) -> None:
        sets = ", ".join(f"{k} = :{k}" for k in values)
        con.execute(
            f"UPDATE cases SET {sets} WHERE case_id = :case_id", {**values, "case_id": case_id}
        )

    def case(self, case_id: str) -> dict[str, Any] | None:
        with self.state.connect() as con:
            row = con.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return dict(row) if row else None

    def cases(self, **where: str | None) -> list[dict[str, Any]]:
        conds = {k: v for k, v in where.items() if v is not None}
        sql = "SELECT * FROM cases"
        if conds:
            sql += " WHERE " + " AND ".join(f"{k} = :{k}" for k in conds)
        with self.state.connect() as con:
            rows = con.execute(sql + " ORDER BY opened_at, case_id", conds).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------ approvals
    def add_approval(self, con: sqlite3.Connection, row: dict[str, Any]) -> int:
        cur = con.execute(
            "INSERT INTO approvals (case_id, remedy, amount, requested_by, requested_role, "
            "needs_role, requested_at, policy_version, note) VALUES (:case_id, :remedy, "
            ":amount, :requested_by, :requested_role, :needs_role, :requested_at, "
            ":policy_version, :note)",
            row,
        )
        return int(cur.lastrowid or 0)

    def approval(self, approval_id: int) -> dict[str, Any] | None:
        with self.state.connect() as con:
            row = con.execute(
                "SELECT * FROM approvals WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return dict(row) if row else None

    def decide_approval(self, con: sqlite3.Connection, approval_id: int, **values: Any) -> bool:
        """Record a decision once: False when someone decided first."""
        cur = con.execute(
            "UPDATE approvals SET decision = :decision, decided_by = :decided_by, "
            "decided_role = :decided_role, decided_at = :decided_at "
            "WHERE approval_id = :approval_id AND decision IS NULL",
            {**values, "approval_id": approval_id},
        )
        return cur.rowcount == 1

    def approvals(self, pending_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM approvals"
        if pending_only:
            sql += " WHERE decision IS NULL"
        with self.state.connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY approval_id").fetchall()]

    # ------------------------------------------------------------ audit
    def audit(self, con: sqlite3.Connection, entry: dict[str, Any]) -> None:
        row = {
            "case_id": None,
            "remedy": None,
            "amount": None,
            "policy_version": None,
            **entry,
            "detail": json.dumps(entry.get("detail", {}), default=str, sort_keys=True),
        }
        con.execute(
            "INSERT INTO audit (at, actor, role, action, case_id, remedy, amount, "
            "policy_version, detail) VALUES (:at, :actor, :role, :action, :case_id, :remedy, "
            ":amount, :policy_version, :detail)",
            row,
        )

    def audit_log(self, case_id: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM audit", []
        if case_id is not None:
            sql, args = sql + " WHERE case_id = ?", [case_id]
        with self.state.connect() as con:
            rows = con.execute(sql + " ORDER BY audit_id", args).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
