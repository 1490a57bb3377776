"""The outbox: every notice to send, its state, attempts and receipt.

One row per idempotency key in the operational state (table ``outreach_sends``).
Every state change is one compare-and-set ``UPDATE`` guarded by the transition
table of :mod:`cxloop.domain.sending`, committed before the call returns; a
claim is therefore on disk *before* the channel is called.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cxloop.domain.sending import Notice, Receipt, SendStatus, can_claim, sources_of
from cxloop.errors import NotFoundError, PolicyError
from cxloop.store.db import Row
from cxloop.store.state import StateDB

INTERRUPTED = (
    "interrupted: the sender stopped while sending it, so it may or may not have been "
    "delivered; check with the receiver, then resend with retry_uncertain if it was not"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class SendRecord:
    """One row of the outbox."""

    key: str
    incident_id: str
    customer_id: str
    channel: str
    address: str
    subject: str
    body: str
    data: dict[str, Any]
    status: SendStatus
    retryable: bool  # for ``failed``: whether trying again may help
    attempts: int
    created_at: str
    claimed_at: str | None
    sent_at: str | None
    receipt: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: Row) -> SendRecord:
        d = dict(row)
        d["data"] = json.loads(d["data"])
        d["status"] = SendStatus(d["status"])
        d["retryable"] = bool(d["retryable"])
        return cls(**d)

    def notice(self) -> Notice:
        return Notice(
            self.key,
            self.incident_id,
            self.customer_id,
            self.address,
            self.subject,
            self.body,
            self.data,
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}


def _scope(
    incident_id: str | None,
    status: SendStatus | None,
    channel: str | None,
    customer_id: str | None = None,
) -> tuple[str, list[str]]:
    where: list[str] = []
    args: list[str] = []
    pairs = (
        ("incident_id", incident_id),
        ("status", status),
        ("channel", channel),
        ("customer_id", customer_id),
    )
    for column, value in pairs:
        if value is not None:
            where.append(f"{column} = ?")
            args.append(str(value))
    return (" WHERE " + " AND ".join(where) if where else ""), args


class Outbox:
    """The outbox table in a :class:`StateDB`. ``clock`` gives ISO-8601 UTC timestamps."""

    def __init__(self, state: StateDB, clock: Callable[[], str] = _now) -> None:
        self.state = state
        self.clock = clock

    def enqueue(self, notices: Iterable[Notice], channel: str) -> int:
        """Add notices as ``pending``; a key (or an incident and customer) already in the
        outbox is left as it is. Returns how many were new. ``data`` must be JSON."""
        now = self.clock()
        rows = [
            (
                n.key,
                n.incident_id,
                n.customer_id,
                channel,
                n.address,
                n.subject,
                n.body,
                json.dumps(n.data, sort_keys=True),
                SendStatus.PENDING.value,
                now,
            )
            for n in notices
        ]
        with self.state.connect() as con:
            cur = con.executemany(
                "INSERT INTO outreach_sends (key, incident_id, customer_id, channel, "
                "address, subject, body, data, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            return max(cur.rowcount, 0)

    def claim(self, key: str, *, retry_uncertain: bool = False) -> bool:
        """Move ``key`` to ``sending`` if its state allows it; committed on return.

        False when it may not be sent now (already sent or being sent, refused for good,
        or uncertain without ``retry_uncertain``)."""
        with self.state.connect() as con:
            row = con.execute(
                "SELECT status, retryable FROM outreach_sends WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no notice with key {key!r} in the outbox")
            status = SendStatus(row["status"])
            if not can_claim(
                status, retryable=bool(row["retryable"]), retry_uncertain=retry_uncertain
            ):
                return False
            cur = con.execute(  # compare-and-set: a concurrent claim makes this a no-op
                "UPDATE outreach_sends SET status = ?, attempts = attempts + 1, claimed_at = ? "
                "WHERE key = ? AND status = ?",
                (SendStatus.SENDING.value, self.clock(), key, status.value),
            )
            return cur.rowcount == 1

    def mark_sent(self, key: str, receipt: Receipt) -> None:
        self._move(key, SendStatus.SENT, sent_at=self.clock(), receipt=receipt.detail, error=None)

    def mark_failed(self, key: str, error: str, retryable: bool) -> None:
        self._move(key, SendStatus.FAILED, error=error, retryable=int(retryable))

    def mark_uncertain(self, key: str, error: str) -> None:
        self._move(key, SendStatus.UNCERTAIN, error=error)

    def recover_interrupted(self) -> int:
        """Notices left ``sending`` by a sender that died become ``uncertain`` (not resent).

        Call it only while holding the senders' lock: a live sender's claims look the same."""
        with self.state.connect() as con:
            cur = con.execute(
                "UPDATE outreach_sends SET status = ?, error = ? WHERE status = ?",
                (SendStatus.UNCERTAIN.value, INTERRUPTED, SendStatus.SENDING.value),
            )
            return cur.rowcount

    def rows(
        self,
        incident_id: str | None = None,
        status: SendStatus | None = None,
        *,
        channel: str | None = None,
        customer_id: str | None = None,
    ) -> list[SendRecord]:
        where, args = _scope(incident_id, status, channel, customer_id)
        with self.state.connect() as con:
            found = con.execute(
                f"SELECT * FROM outreach_sends{where} ORDER BY created_at, key", args
            ).fetchall()
        return [SendRecord.from_row(r) for r in found]

    def deliverable(
        self, channel: str, *, incident_id: str | None = None, retry_uncertain: bool = False
    ) -> list[SendRecord]:
        """Notices a sender would claim now, oldest first."""
        return [
            r
            for r in self.rows(incident_id, channel=channel)
            if can_claim(r.status, retryable=r.retryable, retry_uncertain=retry_uncertain)
        ]

    def summary(
        self, incident_id: str | None = None, *, channel: str | None = None
    ) -> dict[SendStatus, int]:
        """How many notices are in each state (every state listed, zeros included)."""
        where, args = _scope(incident_id, None, channel)
        with self.state.connect() as con:
            found = con.execute(
                f"SELECT status, count(*) AS n FROM outreach_sends{where} GROUP BY status", args
            ).fetchall()
        counts = {s: 0 for s in SendStatus}
        counts.update({SendStatus(r["status"]): int(r["n"]) for r in found})
        return counts

    def _move(self, key: str, dst: SendStatus, **columns: object) -> None:
        sources = sorted(sources_of(dst))
        sets = ", ".join(f"{c} = ?" for c in columns)
        marks = ", ".join("?" for _ in sources)
        with self.state.connect() as con:
            cur = con.execute(
                f"UPDATE outreach_sends SET status = ?, {sets} "
                f"WHERE key = ? AND status IN ({marks})",
                [dst.value, *columns.values(), key, *sources],
            )
            if cur.rowcount == 1:
                return
            row = con.execute("SELECT status FROM outreach_sends WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise NotFoundError(f"no notice with key {key!r} in the outbox")
        raise PolicyError(
            f"notice {key!r} cannot become {dst.value}: it is {row['status']}, "
            f"and only {', '.join(sources)} may"
        )
