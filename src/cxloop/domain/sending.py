"""Sending a notice: its states and the one transition table.

::

    pending ──► sending ──► sent          terminal
                  ▲     ├──► failed       back to sending only when retryable
                  │     └──► uncertain    back to sending only when explicitly asked
                  └────── failed | uncertain

A notice is claimed (``sending``) and that is committed *before* the channel is
called, so a process killed mid-send leaves ``sending`` behind. Such a notice may
or may not have gone out: it becomes ``uncertain`` and is never resent on its own
(at most once). Pure definitions; :mod:`cxloop.store.outbox` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SendStatus(StrEnum):
    PENDING = "pending"  # enqueued, never tried
    SENDING = "sending"  # claimed by a sender; the outcome is not recorded yet
    SENT = "sent"  # the receiving side acknowledged it
    FAILED = "failed"  # certainly not delivered (refused, unreachable)
    UNCERTAIN = "uncertain"  # the sender stopped mid-send: it may or may not have gone out


#: The one transition table. ``sent`` has no way out.
TRANSITIONS: Mapping[SendStatus, frozenset[SendStatus]] = {
    SendStatus.PENDING: frozenset({SendStatus.SENDING}),
    SendStatus.SENDING: frozenset({SendStatus.SENT, SendStatus.FAILED, SendStatus.UNCERTAIN}),
    SendStatus.FAILED: frozenset({SendStatus.SENDING}),
    SendStatus.UNCERTAIN: frozenset({SendStatus.SENDING}),
    SendStatus.SENT: frozenset(),
}

TERMINAL_STATES = frozenset(s for s, out in TRANSITIONS.items() if not out)


def can_transition(src: SendStatus, dst: SendStatus) -> bool:
    return dst in TRANSITIONS[src]


def sources_of(dst: SendStatus) -> frozenset[SendStatus]:
    """The states a notice may move to ``dst`` from."""
    return frozenset(s for s, out in TRANSITIONS.items() if dst in out)


def can_claim(status: SendStatus, *, retryable: bool, retry_uncertain: bool = False) -> bool:
    """Whether a notice in ``status`` may be claimed for sending now.

    The guards on the table's edges into ``sending``: a failure is retried only when
    the channel said retrying may help, and an uncertain notice only on request
    (resending it may notify the customer a second time).
    """
    if not can_transition(status, SendStatus.SENDING):
        return False
    if status is SendStatus.FAILED:
        return retryable
    if status is SendStatus.UNCERTAIN:
        return retry_uncertain
    return True


@dataclass(frozen=True)
class Notice:
    """One message to one customer about one incident (or case).

    ``key`` is the idempotency key: one notice per (incident, customer); the
    outbox never sends a key twice, and channels pass it on (Message-ID,
    ``Idempotency-Key`` header) so receivers can de-duplicate as well.
    """

    key: str
    incident_id: str
    customer_id: str
    address: str  # e-mail address; empty when unknown (webhooks do not need one)
    subject: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)  # structured payload for webhooks


@dataclass(frozen=True)
class Receipt:
    """What the receiving side acknowledged (SMTP Message-ID, HTTP status)."""

    channel: str
    detail: str
