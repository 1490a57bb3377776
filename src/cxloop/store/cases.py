"""Operational state of recovery: signals, cases, approvals and the audit log.

Tables live in the operational state (:class:`~cxloop.store.state.StateDB`: SQLite
or PostgreSQL) beside the ingest runs; the migrations create them. The audit log is
append-only: triggers refuse every UPDATE and DELETE on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cxloop.store.db import Connection, Row
from cxloop.store.state import StateDB

_CHUNK = 500  # ids per IN (...) list

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

    # ------------------------------------------------------------ signals
    def new_signals(self, signal_ids: Iterable[str]) -> set[str]:
        """Which of these signal ids are not stored yet."""
        ids = sorted(set(signal_ids))
        known: set[str] = set()
        with self.state.connect() as con:
            for at in range(0, len(ids), _CHUNK):
                part = ids[at : at + _CHUNK]
                marks = ", ".join("?" for _ in part)
                known.update(
                    r[0]
                    for r in con.execute(
                        f"SELECT signal_id FROM signals WHERE signal_id IN ({marks})", part
                    )
                )
        return set(ids) - known

    def add_signals(self, con: Connection, rows: list[dict[str, Any]]) -> None:
        con.executemany(
            "INSERT INTO signals (signal_id, kind, customer_id, subject, ts, department, "
            "severity, detail, source_ref, facts, case_id, recorded_at) VALUES "
            "(:signal_id, :kind, :customer_id, :subject, :ts, :department, :severity, :detail, "
            ":source_ref, :facts, :case_id, :recorded_at) ON CONFLICT DO NOTHING",
            [{**r, "facts": json.dumps(r["facts"], default=str)} for r in rows],
        )

    def signals(self, case_id: str) -> list[dict[str, Any]]:
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT * FROM signals WHERE case_id = ? ORDER BY ts, signal_id", (case_id,)
            ).fetchall()
        return [{**dict(r), "facts": json.loads(r["facts"])} for r in rows]

    # ------------------------------------------------------------ cases
    def latest_case(self, con: Connection, customer_id: str, subject: str) -> Row | None:
        return con.execute(
            "SELECT * FROM cases WHERE customer_id = ? AND subject = ? "
            "ORDER BY opened_at DESC, case_id DESC LIMIT 1",
            (customer_id, subject),
        ).fetchone()

    def next_case_id(self, con: Connection) -> str:
        row = con.execute("SELECT max(CAST(substr(case_id, 4) AS BIGINT)) FROM cases").fetchone()
        return f"CS-{((row[0] if row else None) or 0) + 1:06d}"

    def insert_case(self, con: Connection, case: dict[str, Any]) -> None:
        cols = ", ".join(CASE_FIELDS)
        marks = ", ".join(":" + f for f in CASE_FIELDS)
        con.execute(f"INSERT INTO cases ({cols}) VALUES ({marks})", case)

    def update_case(self, con: Connection, case_id: str, **values: Any) -> None:
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
    def add_approval(self, con: Connection, row: dict[str, Any]) -> int:
        cur = con.execute(
            "INSERT INTO approvals (case_id, remedy, amount, requested_by, requested_role, "
            "needs_role, requested_at, policy_version, note) VALUES (:case_id, :remedy, "
            ":amount, :requested_by, :requested_role, :needs_role, :requested_at, "
            ":policy_version, :note) RETURNING approval_id",
            row,
        )
        found = cur.fetchone()
        assert found is not None
        return int(found[0])

    def approval(self, approval_id: int) -> dict[str, Any] | None:
        with self.state.connect() as con:
            row = con.execute(
                "SELECT * FROM approvals WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return dict(row) if row else None

    def decide_approval(self, con: Connection, approval_id: int, **values: Any) -> bool:
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

    def pending_for_case(self, case_id: str) -> list[dict[str, Any]]:
        """The case's approval requests nobody has decided yet."""
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT * FROM approvals WHERE case_id = ? AND decision IS NULL "
                "ORDER BY approval_id",
                (case_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------ running totals
    def granted_total(
        self,
        con: Connection,
        remedies: Iterable[str],
        *,
        case_id: str | None = None,
        customer_id: str | None = None,
        subject: str | None = None,
        since: str | None = None,
    ) -> float:
        """The amount granted of these remedies (the audit's grant entries), on a case,
        to a customer, on a subject, at or after ``since``."""
        sql = (
            "SELECT COALESCE(SUM(a.amount), 0) FROM audit a JOIN cases c ON c.case_id = "
            "a.case_id WHERE a.action = 'grant' AND a.amount IS NOT NULL"
        )
        sql, args = _scoped(sql, "a.remedy", remedies, case_id, customer_id, subject)
        if since is not None:
            sql, args = sql + " AND a.at >= ?", [*args, since]
        row = con.execute(sql, args).fetchone()
        return float(row[0] if row else 0.0)

    def pending_total(
        self,
        con: Connection,
        remedies: Iterable[str],
        *,
        case_id: str | None = None,
        customer_id: str | None = None,
        subject: str | None = None,
        before: int | None = None,
    ) -> float:
        """The amount of these remedies waiting for approval (undecided requests; with
        ``before``, only those asked for before that approval)."""
        sql = (
            "SELECT COALESCE(SUM(p.amount), 0) FROM approvals p JOIN cases c ON c.case_id = "
            "p.case_id WHERE p.decision IS NULL"
        )
        sql, args = _scoped(sql, "p.remedy", remedies, case_id, customer_id, subject)
        if before is not None:
            sql, args = sql + " AND p.approval_id < ?", [*args, before]
        row = con.execute(sql, args).fetchone()
        return float(row[0] if row else 0.0)

    # ------------------------------------------------------------ audit
    def audit(self, con: Connection, entry: dict[str, Any]) -> None:
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


def _scoped(
    sql: str,
    column: str,
    remedies: Iterable[str],
    case_id: str | None,
    customer_id: str | None,
    subject: str | None,
) -> tuple[str, list[Any]]:
    names = sorted(set(remedies))
    args: list[Any] = list(names)
    sql += f" AND {column} IN ({', '.join('?' for _ in names)})"
    for col, value in (("c.case_id", case_id), ("c.customer_id", customer_id)):
        if value is not None:
            sql, args = sql + f" AND {col} = ?", [*args, value]
    if subject is not None:
        sql, args = sql + " AND c.subject = ?", [*args, subject]
    return sql, args
